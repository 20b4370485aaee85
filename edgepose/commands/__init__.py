"""One module per ``edgepose`` sub-command; each exposes ``register(subparsers)``.

The command functions are thin: parse arguments, call library functions, print, return an exit
code. Tests call the library functions directly.
"""

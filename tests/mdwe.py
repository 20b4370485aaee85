"""The start of a child program that turns on write-xor-execute memory (PR_SET_MDWE), as systemd's
``MemoryDenyWriteExecute=yes`` does, so a test can check that a unit's code runs under it.

The child prints ``NO-MDWE`` (the kernel lacks it) or ``NOT-ENFORCED`` and exits 0 where the check
cannot be made; it needs ``ctypes``, ``mmap`` and ``sys`` imported before this text.
"""

MDWE_PREAMBLE = '''libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN (Linux >= 6.3)
    print("NO-MDWE"); sys.exit(0)
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    print("NOT-ENFORCED"); sys.exit(0)
except OSError:
    pass
'''

"""Offline analysis of recorded multi-person video: tracking, identities, exports, synchronisation."""

# Most people tracked per frame by default (``edgepose analyze --people``): a line dance or a gym
# floor of up to twenty. Kept here, free of imports, so the command line shows it without cv2.
PEOPLE = 20

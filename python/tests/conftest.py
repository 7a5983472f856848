"""The package under test is the repository's (python/recovery); the library
is found through RECOVERY_C_LIBRARY, which ctest sets."""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # servers.py

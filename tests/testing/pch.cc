// The one file of recovery_test_pch, which compiles the precompiled header
// the standalone test binaries reuse (tests/CMakeLists.txt).

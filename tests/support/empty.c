/* Keeps the test-support library non-empty. */
typedef int aimeter_testsupport_empty;

/* The wall: src/ is the core library and never sees curses (see CMakeLists.txt). */
#error "src/ must not include curses: only ui/ may"

/* keys: escape sequences that curses did not turn into a key.
 *
 * Terminals differ in what they send for Home, End, Delete, PgUp/PgDn and
 * the modified keys, and curses decodes only what the terminfo entry of
 * $TERM lists (tmux sends End as ESC [ 4 ~ while xterm's entry says
 * ESC O F). What curses leaves over arrives as ESC and then plain
 * characters. The reader collects them until ui_esc_complete says the
 * sequence is whole, and ui_esc_decode names it: a key the dashboard
 * knows, or NONE, which means the whole sequence is swallowed, so no part
 * of it ever lands on the input line. Bracketed paste (ESC [ 200 ~ ...
 * ESC [ 201 ~) and Shift-Enter as xterm's modifyOtherKeys (ESC [ 27;2;13 ~)
 * and the CSI-u form (ESC [ 13;2 u) report send are decoded here too. Pure;
 * any thread. */
#ifndef AIMETER_UI_KEYS_H
#define AIMETER_UI_KEYS_H

#include <stdbool.h>
#include <stddef.h>

enum { UI_ESC_MAX = 32 }; /* a longer sequence is swallowed at this length */

typedef enum ui_esc_kind {
	UI_ESC_NONE,        /* unknown or incomplete: swallow it */
	UI_ESC_ALONE,       /* ESC by itself */
	UI_ESC_ALT,         /* ESC + a printable character: Alt-ch */
	UI_ESC_NEWLINE,     /* Alt-Enter, Shift-Enter, Ctrl-Enter */
	UI_ESC_ENTER,       /* the keypad's Enter */
	UI_ESC_HOME, UI_ESC_END, UI_ESC_DELETE, UI_ESC_PGUP, UI_ESC_PGDN,
	UI_ESC_UP, UI_ESC_DOWN, UI_ESC_RIGHT, UI_ESC_LEFT,
	UI_ESC_FKEY,        /* F1..F12 */
	UI_ESC_PASTE_BEGIN, UI_ESC_PASTE_END
} ui_esc_kind;

typedef struct ui_esc {
	ui_esc_kind kind;
	int ch; /* ALT: the character; FKEY: its number */
} ui_esc;

/* Whether the n bytes that followed an ESC are a whole sequence. */
bool ui_esc_complete(const char *s, size_t n);

/* Names the sequence of n bytes that followed an ESC (n may be 0: a lone
 * ESC; an incomplete sequence decodes as NONE or, for ESC O, as Alt-O). */
ui_esc ui_esc_decode(const char *s, size_t n);

#endif

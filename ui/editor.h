/* editor: the single-line editor of the input line, with history.
 *
 * Characters are kept as wchar_t so cursor moves and deletions work on
 * whole characters and wide ones are measured with wcwidth. Pure and
 * single-threaded (the UI thread); no curses: keys arrive as the neutral
 * operations below. Bounded: UI_ED_MAX characters, UI_ED_HISTORY lines. */
#ifndef AIMETER_UI_EDITOR_H
#define AIMETER_UI_EDITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <wchar.h>

enum { UI_ED_MAX = 8192, UI_ED_HISTORY = 200 };

typedef enum ui_ed_op {
	UI_ED_LEFT, UI_ED_RIGHT, UI_ED_HOME, UI_ED_END,
	UI_ED_BACKSPACE, UI_ED_DELETE,
	UI_ED_KILL_LINE,  /* Ctrl-U: delete from the start to the cursor */
	UI_ED_KILL_END,   /* Ctrl-K: delete from the cursor to the end */
	UI_ED_KILL_WORD,  /* Ctrl-W: delete the word before the cursor */
	UI_ED_HIST_PREV, UI_ED_HIST_NEXT
} ui_ed_op;

typedef struct ui_editor ui_editor;

ui_editor *ui_editor_new(void);
void ui_editor_free(ui_editor *ed);

/* Inserts one printable character at the cursor; returns false (and does
 * nothing) for control characters or when the line is full. */
bool ui_editor_insert(ui_editor *ed, wchar_t ch);

/* Applies an editing operation; returns true when the line changed or the
 * cursor moved. */
bool ui_editor_op(ui_editor *ed, ui_ed_op op);

/* Characters on the line. */
int ui_editor_len(const ui_editor *ed);

/* True when the line holds nothing but spaces. */
bool ui_editor_blank(const ui_editor *ed);

/* Takes the line as UTF-8 (heap, caller frees), records it in the history
 * when it is not blank and differs from the last entry, and clears the
 * line. */
char *ui_editor_take(ui_editor *ed);

/* The visible part of the line for a field `width` cells wide, scrolled so
 * the cursor shows: UTF-8 into buf; *cursor_col is the cursor's cell. */
void ui_editor_view(const ui_editor *ed, int width, char *buf, size_t n, int *cursor_col);

#endif

/* editor: the input line's editor, with history.
 *
 * Characters are kept as wchar_t so cursor moves and deletions work on
 * whole characters and wide ones are measured with wcwidth. The text may
 * hold newlines (Alt-Enter, Shift-Enter, a pasted block): one prompt of
 * several lines. Pure and single-threaded (the UI thread); no curses: keys
 * arrive as the neutral operations below.
 *
 * Bounded, never cut: the buffer grows as needed up to UI_ED_MAX
 * characters; an insertion that does not fit is refused whole (the caller
 * says so on screen), so what is sent is always what was typed or pasted.
 * UI_ED_HISTORY entries of history. */
#ifndef AIMETER_UI_EDITOR_H
#define AIMETER_UI_EDITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <wchar.h>

enum { UI_ED_MAX = 1 << 20, UI_ED_HISTORY = 1000 };

typedef enum ui_ed_op {
	UI_ED_LEFT, UI_ED_RIGHT, UI_ED_HOME, UI_ED_END,
	UI_ED_BACKSPACE, UI_ED_DELETE,
	UI_ED_KILL_LINE,  /* Ctrl-U: delete from the start to the cursor */
	UI_ED_KILL_END,   /* Ctrl-K: delete from the cursor to the end */
	UI_ED_KILL_WORD,  /* Ctrl-W: delete the word before the cursor */
	UI_ED_HIST_PREV, UI_ED_HIST_NEXT,
	UI_ED_UP, UI_ED_DOWN /* a line up or down; from the first or last line, history */
} ui_ed_op;

typedef struct ui_editor ui_editor;

ui_editor *ui_editor_new(void);
void ui_editor_free(ui_editor *ed);

/* Inserts one character at the cursor: a printable one, a newline or a
 * tab. Returns false (and does nothing) for other control characters or
 * when the text is full. */
bool ui_editor_insert(ui_editor *ed, wchar_t ch);

/* Inserts a pasted block (UTF-8, n bytes) at the cursor, whole or not at
 * all: CR LF and CR become newlines, other control characters are dropped.
 * Returns the characters inserted, or -1 (nothing inserted) when the text
 * would pass UI_ED_MAX. */
long ui_editor_insert_text(ui_editor *ed, const char *s, size_t n);

/* Applies an editing operation; returns true when the text changed or the
 * cursor moved. */
bool ui_editor_op(ui_editor *ed, ui_ed_op op);

/* Characters in the text. */
int ui_editor_len(const ui_editor *ed);

/* Lines in the text (newlines + 1). */
int ui_editor_lines(const ui_editor *ed);

/* True when the text holds nothing but spaces and newlines. */
bool ui_editor_blank(const ui_editor *ed);

/* Adds a line to the history (as take does), e.g. one kept from an
 * earlier run. */
void ui_editor_remember(ui_editor *ed, const char *s);

/* Takes the text as UTF-8 (heap, caller frees), records it in the history
 * when it is not blank and differs from the last entry, and clears it. */
char *ui_editor_take(ui_editor *ed);

/* A copy of the text as UTF-8 (heap, caller frees), and whether the
 * cursor is at its end. */
char *ui_editor_text(const ui_editor *ed);
bool ui_editor_at_end(const ui_editor *ed);

/* The text's first characters as UTF-8, as many as fit in n bytes. */
void ui_editor_head(const ui_editor *ed, char *buf, size_t n);

/* Replaces the text (as a completion does), the cursor at its end. */
void ui_editor_set(ui_editor *ed, const char *s);

/* The text in a field `width` cells wide and `rows` high: the window of
 * lines that holds the cursor's, each cut to the width (the cursor's line
 * scrolled so the cursor shows; a tab shows as a space). cb gets each row
 * from the top as UTF-8; *cur_row and *cur_col say where the cursor is.
 * Returns the rows used. */
typedef void (*ui_ed_row_cb)(void *ctx, int row, const char *text);
int ui_editor_view_rows(const ui_editor *ed, int width, int rows, ui_ed_row_cb cb, void *ctx,
                        int *cur_row, int *cur_col);

/* The visible part of the text for a field `width` cells wide, scrolled so
 * the cursor shows: UTF-8 into buf; *cursor_col is the cursor's cell. A
 * newline shows as `nl` (one cell, e.g. "↵"), a tab as a space. */
void ui_editor_view(const ui_editor *ed, int width, const char *nl, char *buf, size_t n,
                    int *cursor_col);

#endif

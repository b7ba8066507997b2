/* panels: the text of each dashboard panel, built from a snapshot as rich
 * lines (rline.h) placed in the panel's rectangle. No curses here: the
 * painter (paint.c) frames the panel and puts the rows on screen as they
 * are, so what a panel says is tested without a terminal.
 *
 * The words repeat what the colours say (ok / alert / over budget,
 * cool-down, blocks head) so the screen reads the same with NO_COLOR and
 * for colour-blind users. ASCII mode swaps every glyph for a plain one.
 * The full and the compact layout share each panel's builder; `compact`
 * picks the fewer words. Pure (times are passed in); any thread. */
#ifndef AIMETER_UI_PANELS_H
#define AIMETER_UI_PANELS_H

#include <stdbool.h>
#include <stdint.h>

#include "console.h"
#include "engine.h"
#include "rline.h"

typedef struct ui_glyphs {
	const char *dot, *mark, *live, *cursor, *hl, *vl, *tl, *tr, *bl, *br, *arrow, *blocks, *up,
	    *reset, *newline;
} ui_glyphs;

/* The UTF-8 glyphs, or the plain ones of ASCII mode. */
const ui_glyphs *ui_glyphs_get(bool ascii);

typedef struct ui_panel_ctx {
	const am_snapshot *snap;
	const char *version;        /* shown in the full header */
	int64_t now_mono, now_wall; /* cool-downs are mono, clocks and resets wall */
	bool ascii;                 /* ASCII glyphs only */
	bool compact;               /* the compact layout's words */
} ui_panel_ctx;

/* Each builder fills `out` for a w × h rectangle: the panel's inside when
 * it is framed (the painter draws the frame and the title), the panel's
 * whole rectangle when it is not (the header, the key hints, the "too
 * small" line and the compact cache rule). */
void ui_panel_header(const ui_panel_ctx *c, int w, ui_block *out);
void ui_panel_budget(const ui_panel_ctx *c, int w, int h, ui_block *out);
void ui_panel_limits(const ui_panel_ctx *c, int w, int h, ui_block *out);
void ui_panel_models(const ui_panel_ctx *c, int w, int h, ui_block *out);
/* The provider's message batches (the Cache panel shows them): open, time
 * left on a; saved and requests ended on b, or after them on a (b NULL). */
void ui_batches_lines(const ui_panel_ctx *c, ui_rline *a, ui_rline *b);

void ui_panel_cache(const ui_panel_ctx *c, int w, int h, ui_block *out);
void ui_panel_hints(int w, ui_block *out);
void ui_panel_toosmall(int w, ui_block *out);
/* What the input line says after the text: its size when Enter would
 * send more than the field shows ("200 lines · 20,126 chars"), and for a
 * prompt a preview of the call: the tokens it sends, estimated (about 4
 * characters a token, plus the conversation's context), the model that
 * will answer and, when the engine previews it (am_engine_preview), the
 * worst case the budget would reserve: "≈3.3k tok → opus-4-5 · ≤ $0.042".
 * Without the engine's preview the model is the pinned one or "auto".
 * "" when there is nothing to say. */
typedef struct ui_input_info {
	int chars, lines;
	bool fits;               /* the whole text shows in the field */
	bool command;            /* the text is a /command */
	int64_t context_tokens;  /* the conversation's, sent again with the prompt */
	const char *model_mode;  /* the snapshot's: "auto" or the pinned model */
	const am_preview *preview; /* the engine's preview, or NULL */
} ui_input_info;

/* The input tokens the remark shows for a text of `chars` characters after
 * a context of context_tokens (what the preview is asked for). */
int64_t ui_input_tokens(int64_t chars, int64_t context_tokens);
void ui_input_remark(const ui_input_info *in, bool ascii, char *buf, size_t n);

/* The queue view (the queue key, /queue): a line of counts, then one row
 * per prompt not answered yet (oldest first) and per prompt that ended
 * without an answer (newest first): the job id, the model, why it waits
 * or how it ended, and the prompt's start; the selected row marked; the
 * keys on the last line. The rows scroll to keep the selection in view.
 * While paused, a queued prompt says it waits for /resume.
 * rows come from ui_console_queue (their text already sanitised). */
void ui_panel_queue(const ui_queue_row *rows, int n, int sel, bool paused, bool ascii, int w,
                    int h, ui_block *out);

/* The status line (the answer to the last command or key) in the hint
 * line's place. */
void ui_panel_status(const char *text, ui_role role, int w, ui_block *out);

#endif

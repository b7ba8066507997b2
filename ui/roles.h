/* roles: the colour roles of the dashboard. Panels say what a piece of
 * text means (calm, warn, alarm, dim, accent ...); term turns each role
 * into curses attributes. Curses-free, so the panel builders and their
 * tests can name roles without a terminal. */
#ifndef AIMETER_UI_ROLES_H
#define AIMETER_UI_ROLES_H

#define UI_ROLES(X)                                                 \
	X(NORMAL)      /* plain text */                                 \
	X(DIM)         /* secondary figures, rules, the meta line */    \
	X(TITLE)       /* panel titles, table headings */               \
	X(BORDER)      /* box lines */                                  \
	X(ACCENT)      /* the prompt mark, the cursor */                \
	X(CALM)        /* plenty of headroom, ok */                     \
	X(WARN)        /* at an alert, a queue waiting */               \
	X(ALARM)       /* over a limit, cool-down, errors */            \
	X(BADGE_SIM)   /* the SIMULATOR badge */                        \
	X(BADGE_LIVE)  /* the live badge */                             \
	X(YOU)         /* "you ▸" */                                    \
	X(KEY)         /* key names in the hint line */                 \
	X(BAR_EMPTY)   /* the unfilled part of a bar */

typedef enum ui_role {
#define UI_ROLE_ENUM(r) UI_ROLE_##r,
	UI_ROLES(UI_ROLE_ENUM)
#undef UI_ROLE_ENUM
	UI_ROLE_COUNT
} ui_role;

#endif

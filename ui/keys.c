/* keys: the leftover escape sequences, by the ECMA-48 grammar: CSI is
 * ESC [ then parameter bytes (0x30-0x3F), intermediate bytes (0x20-0x2F)
 * and one final byte (0x40-0x7E); SS3 is ESC O and one byte. */
#include "keys.h"

#include <stdlib.h>
#include <string.h>

static bool final_byte(char c)
{
	return c >= 0x40 && c <= 0x7E;
}

bool ui_esc_complete(const char *s, size_t n)
{
	if (n == 0)
		return false;
	if (s[0] == 0x1B) /* ESC ESC ...: Alt and a sequence */
		return ui_esc_complete(s + 1, n - 1);
	if (s[0] == 'O')
		return n >= 2;
	if (s[0] != '[')
		return true;
	if (n >= 2 && s[1] == '[') /* the Linux console's F1..F5: ESC [ [ A */
		return n >= 3;
	char last = s[n - 1];
	/* A control character inside ends the sequence too (it is broken). */
	return n >= 2 && (final_byte(last) || (unsigned char)last < 0x20);
}

/* The numeric parameters of a CSI body (between '[' and the final byte):
 * up to 4, missing ones 0. Returns how many there were. */
static int params(const char *s, size_t n, int p[4])
{
	int k = 0;
	memset(p, 0, 4 * sizeof p[0]);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == ';') {
			if (++k == 4)
				return 4;
		} else if (s[i] >= '0' && s[i] <= '9') {
			if (p[k] < 100000)
				p[k] = p[k] * 10 + (s[i] - '0');
		} else {
			return -1; /* private markers (<=>?) and intermediates: none we use */
		}
	}
	return n ? k + 1 : 0;
}

static ui_esc key(ui_esc_kind kind)
{
	return (ui_esc){kind, 0};
}

/* Home/End/arrows by their final letter (CSI with modifiers, or SS3). */
static ui_esc letter(char c)
{
	switch (c) {
	case 'H': return key(UI_ESC_HOME);
	case 'F': return key(UI_ESC_END);
	case 'A': return key(UI_ESC_UP);
	case 'B': return key(UI_ESC_DOWN);
	case 'C': return key(UI_ESC_RIGHT);
	case 'D': return key(UI_ESC_LEFT);
	default: return key(UI_ESC_NONE);
	}
}

/* ESC [ N ~ (with an optional ;modifier). */
static ui_esc tilde(const int *p, int np)
{
	static const struct {
		int code;
		ui_esc_kind kind;
	} map[] = {
		{1, UI_ESC_HOME},   {7, UI_ESC_HOME},        {4, UI_ESC_END},
		{8, UI_ESC_END},    {3, UI_ESC_DELETE},      {5, UI_ESC_PGUP},
		{6, UI_ESC_PGDN},   {200, UI_ESC_PASTE_BEGIN}, {201, UI_ESC_PASTE_END},
	};
	/* The F-keys of the vt220 numbering. */
	static const int fkeys[] = {11, 12, 13, 14, 15, 17, 18, 19, 20, 21, 23, 24};
	if (np == 3 && p[0] == 27 && p[2] == 13 && p[1] > 1)
		return key(UI_ESC_NEWLINE); /* modifyOtherKeys: a modified Enter */
	if (np > 2)
		return key(UI_ESC_NONE);
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (map[i].code == p[0])
			return key(map[i].kind);
	for (size_t i = 0; i < sizeof fkeys / sizeof fkeys[0]; i++)
		if (fkeys[i] == p[0] && np == 1)
			return (ui_esc){UI_ESC_FKEY, (int)i + 1};
	return key(UI_ESC_NONE);
}

ui_esc ui_esc_decode(const char *s, size_t n)
{
	if (n == 0)
		return key(UI_ESC_ALONE);
	if (s[0] == 0x1B)
		return n == 1 ? key(UI_ESC_ALONE) : key(UI_ESC_NONE);
	if (s[0] == '\r' || s[0] == '\n')
		return n == 1 ? key(UI_ESC_NEWLINE) : key(UI_ESC_NONE);
	if (s[0] == 'O') {
		if (n == 1)
			return (ui_esc){UI_ESC_ALT, 'O'};
		if (n != 2)
			return key(UI_ESC_NONE);
		if (s[1] >= 'P' && s[1] <= 'S')
			return (ui_esc){UI_ESC_FKEY, s[1] - 'P' + 1};
		if (s[1] == 'M')
			return key(UI_ESC_ENTER);
		return letter(s[1]);
	}
	if (s[0] != '[')
		return n == 1 && s[0] > 0x20 && s[0] < 0x7F ? (ui_esc){UI_ESC_ALT, s[0]}
		                                          : key(UI_ESC_NONE);
	if (n < 2 || !final_byte(s[n - 1]) || s[1] == '[')
		return key(UI_ESC_NONE);
	int p[4];
	int np = params(s + 1, n - 2, p);
	if (np < 0)
		return key(UI_ESC_NONE);
	char fin = s[n - 1];
	if (fin == '~')
		return tilde(p, np);
	if (fin == 'u') /* CSI u: ESC [ code ; modifier u */
		return np == 2 && p[0] == 13 && p[1] > 1 ? key(UI_ESC_NEWLINE) : key(UI_ESC_NONE);
	return letter(fin);
}

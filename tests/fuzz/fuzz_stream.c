/* fuzz_stream: the provider layer on arbitrary bytes. The bytes are read as
 * an event stream twice - whole, and in chunks whose sizes come from the
 * first byte - and both readings must agree (events are independent of
 * chunk boundaries); then as a JSON answer and an error body, as header
 * lines, and as dates. Nothing may crash, leak or read out of bounds. Seed
 * with tests/fixtures/anthropic. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "anthropic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_stream(const char *s, size_t n, size_t chunk, am_prov_result *r)
{
	am_prov_stream st;
	am_prov_stream_init(&st, 4096, 65536, NULL, NULL);
	for (size_t off = 0; off < n; off += chunk)
		if (am_prov_stream_feed(&st, s + off, n - off < chunk ? n - off : chunk, NULL) != 0)
			break;
	am_prov_result_init(r);
	am_prov_stream_finish(&st, r);
	am_prov_stream_free(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t chunk = (size_t)data[0] % 17 + 1;
	const char *s = (const char *)data + 1;
	size_t n = size - 1;

	am_prov_result whole, cut;
	read_stream(s, n, n ? n : 1, &whole);
	read_stream(s, n, chunk, &cut);
	if (whole.err != cut.err || memcmp(&whole.usage, &cut.usage, sizeof whole.usage) ||
	    whole.text_len != cut.text_len || memcmp(whole.text, cut.text, whole.text_len) ||
	    strcmp(whole.model, cut.model) || strcmp(whole.stop_reason, cut.stop_reason))
		abort();
	am_prov_result_free(&whole);
	am_prov_result_free(&cut);

	am_prov_result r;
	am_prov_result_init(&r);
	am_prov_finish_response(AM_PROV_MESSAGES, 200, s, n, -1, &r);
	am_prov_result_free(&r);
	am_prov_result_init(&r);
	am_prov_finish_response(AM_PROV_MESSAGES, 400 + data[0] % 200, s, n, data[0] % 3 - 1, &r);
	if (r.err == AM_PERR_NONE)
		abort();
	am_prov_result_free(&r);

	am_prov_headers h;
	am_prov_headers_init(&h);
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(s + i, '\n', n - i);
		size_t len = nl ? (size_t)(nl - (s + i)) + 1 : n - i;
		am_prov_headers_line(&h, s + i, len);
		i += len;
	}
	am_prov_headers_finish(&h, 0);
	if (h.rl.has_retry_after && h.rl.retry_after_ns < 0)
		abort();
	int64_t ns;
	am_prov_parse_rfc3339(s, n, &ns);
	am_prov_parse_http_date(s, n, &ns);
	return 0;
}

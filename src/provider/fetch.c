/* fetch: see fetch.h. */
#include "fetch.h"

#include <curl/curl.h>
#include <string.h>
#include <strings.h>

#include "client.h"

enum { FETCH_TIMEOUT_S = 120, FETCH_CONNECT_TIMEOUT_S = 20, FETCH_MAX_REDIRS = 5 };

bool am_fetch_is_url(const char *s)
{
	return !strncasecmp(s, "https://", 8) || !strncasecmp(s, "http://", 7);
}

struct sink {
	am_bbuf *out;
	bool full;
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct sink *k = ctx;
	if (am_bbuf_append(k->out, p, size * n)) {
		k->full = true;
		return 0; /* stops the transfer */
	}
	return size * n;
}

int am_fetch(const char *url, am_bbuf *out, am_err *err)
{
	if (strpbrk(url, "\r\n \t"))
		return am_err_setc(err, AM_E_INVALID, "'%.200s' is not a URL", url);
	if (!strncasecmp(url, "http://", 7) && !am_client_url_loopback(url))
		return am_err_setc(err, AM_E_INVALID,
		                   "%.200s: plain http beyond this machine; use https://", url);
	if (!am_fetch_is_url(url))
		return am_err_setc(err, AM_E_INVALID, "'%.200s' is not an https:// URL", url);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return am_err_set(err, "libcurl could not be initialised");
	CURL *h = curl_easy_init();
	if (!h)
		return am_err_set(err, "libcurl could not start a transfer");
	struct sink k = { out, false };
	char cerr[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)FETCH_MAX_REDIRS);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)FETCH_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)FETCH_CONNECT_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "aimeter/" AIMETER_VERSION);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &k);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	CURLcode rc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	if (k.full)
		return am_err_set(err, "%.200s: the file is larger than %zu bytes", url, out->max);
	if (rc != CURLE_OK)
		return am_err_set(err, "%.200s: %s", url, cerr[0] ? cerr : curl_easy_strerror(rc));
	if (status != 200)
		return am_err_set(err, "%.200s: HTTP %ld", url, status);
	return 0;
}

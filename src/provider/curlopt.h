/* curlopt: a run of curl_easy_setopt calls that stops at the first failure,
 * for the provider's two transfer set-ups (client.c, passthru.c):
 *     CURLcode rc = CURLE_OK;
 *     AM_CURL_SET(rc, easy, CURLOPT_URL, url);
 *     AM_CURL_SET(rc, easy, CURLOPT_NOSIGNAL, 1L);
 *     if (rc != CURLE_OK) ... one error names the first option refused. */
#ifndef AIMETER_CURLOPT_H
#define AIMETER_CURLOPT_H

#include <curl/curl.h>

#define AM_CURL_SET(rc, easy, opt, val)                                                    \
	do {                                                                               \
		if ((rc) == CURLE_OK)                                                      \
			(rc) = curl_easy_setopt((easy), (opt), (val));                     \
	} while (0)

#endif

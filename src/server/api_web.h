/*
 * api_web.h - the web app at / (its files embedded in the binary, see
 * web_assets.h) and the saved queries of its SQL page (/api/saved-queries).
 * Routes and headers: docs/internals/http-api.md, "Web app".
 */
#ifndef SL_SERVER_API_WEB_H
#define SL_SERVER_API_WEB_H
#include <microhttpd.h>
#include <stddef.h>

/*
 * Whether the path is the web app's: 1 (take it), 0 (not ours: 404), or -1 for a
 * method the path does not take (*status 405, *allow the methods it takes).
 * Called after every other route missed.
 */
int api_web_route(const char *method, const char *url, int *status, const char **allow);

/* Answers a request api_web_route took; body is the request body (PUT). */
enum MHD_Result api_web_run(struct MHD_Connection *c, const char *data_dir, const char *method,
                            const char *url, const void *body, size_t len);

#endif

/*
 * web_assets.h - the web app's built files (web/, built by Vite), embedded in
 * the binary by web_embed (src/server/web_embed.c) at build time, so that
 * `streamlake serve` stays one file.  Built with -DSL_WEB=OFF the table is empty.
 */
#ifndef SL_SERVER_WEB_ASSETS_H
#define SL_SERVER_WEB_ASSETS_H
#include <stddef.h>

typedef struct web_asset {
    const char *path;          /* "/index.html", "/assets/index-3f2a9c.js" */
    const unsigned char *data;
    size_t len;
} web_asset;

/* Sorted by path (strcmp order). */
extern const web_asset web_assets[];
extern const size_t web_assets_count;

#endif

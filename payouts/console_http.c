/*
 * console_http.c - payouts_console_start()/stop() (svc.h): the finance
 * console (console.h) served through common/http in its html mode, which
 * owns the libmicrohttpd rules (bound address only, body cap, wiped
 * bodies, page security headers on every response).
 *
 * svc.h hands back only the struct http_server, so the console behind
 * each running server is remembered here until stop.
 */
#include "compat.h"
#include "console.h"
#include "http.h"
#include "log.h"

#include <pthread.h>

#define CONSOLE_THREADS 4

struct running {
	struct http_server *srv;
	struct fconsole *c;
	struct running *next;
};

static pthread_mutex_t running_mu = PTHREAD_MUTEX_INITIALIZER;
static struct running *running_list;

static void
serve(void *cls, const struct http_request *hreq, struct http_response *hresp)
{
	struct staffweb_req req;
	struct staffweb_resp resp;

	staffweb_req_from_http(hreq, &req);
	staffweb_resp_init(&resp);
	fconsole_handle(cls, &req, &resp);
	staffweb_resp_to_http(&resp, hresp);
	staffweb_resp_free(&resp);
}

enum tl_err
payouts_console_start(struct payouts_svc *s, struct http_server **out)
{
	struct fconsole_opts fo;
	struct http_opts o;
	struct running *r;
	const char *addr;
	enum tl_err e;

	*out = NULL;
	if (!s || !s->cfg)
		return TL_EINVAL;
	addr = s->cfg->listen_address && s->cfg->listen_address[0] ? s->cfg->listen_address : "127.0.0.1";
	if (s->cfg->listen_port < 0 || s->cfg->listen_port > 65535)
		return TL_ECONFIG;
	if (!(r = calloc(1, sizeof(*r))))
		return TL_ENOMEM;
	memset(&fo, 0, sizeof(fo));
	fo.svc = s;
	fo.cookie_secure = s->cfg->cookie_secure;
	if ((e = fconsole_open(&fo, &r->c)) != TL_OK) {
		free(r);
		return e;
	}
	staffweb_http_opts(&o, addr, (uint16_t)s->cfg->listen_port, CONSOLE_THREADS, serve, r->c);
	if ((e = http_server_start(&o, &r->srv)) != TL_OK) {
		log_err("finance console: cannot listen on %s:%lld (%s)", addr, (long long)s->cfg->listen_port,
		        tl_strerror(e));
		fconsole_close(r->c);
		free(r);
		return e;
	}
	log_info("finance console: listening on %s:%u", addr, (unsigned)http_server_port(r->srv));
	pthread_mutex_lock(&running_mu);
	r->next = running_list;
	running_list = r;
	pthread_mutex_unlock(&running_mu);
	*out = r->srv;
	return TL_OK;
}

void
payouts_console_stop(struct http_server *srv)
{
	struct running **pp, *r = NULL;

	if (!srv)
		return;
	pthread_mutex_lock(&running_mu);
	for (pp = &running_list; *pp; pp = &(*pp)->next)
		if ((*pp)->srv == srv) {
			r = *pp;
			*pp = r->next;
			break;
		}
	pthread_mutex_unlock(&running_mu);
	/* Stop first: in-flight handlers still use the console. */
	http_server_stop(srv);
	if (r) {
		fconsole_close(r->c);
		free(r);
	}
}

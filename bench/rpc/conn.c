/*
 * rpc/conn.c - libkmem connections with or without magazines (conn.h).
 */
#include "conn.h"
#include "proc.h"

bool rpc_have_magazines(void)
{
#ifdef KMEM_CONNECT_NO_MAGAZINES
	return true;
#else
	return false;
#endif
}

struct kmem_client *rpc_connect(const char *name, bool magazines)
{
	char msg[KMEM_MSG_MAX];
	struct kmem_client *c;
	int rc;

#ifdef KMEM_CONNECT_NO_MAGAZINES
	struct kmem_connect_opts o = KMEM_CONNECT_OPTS_INIT;

	if (!magazines)
		o.flags |= KMEM_CONNECT_NO_MAGAZINES;
	rc = kmem_client_connect_opts(rpc_socket(), name, &o, &c, msg, sizeof(msg));
#else
	(void)magazines;
	rc = kmem_client_connect(rpc_socket(), name, &c, msg, sizeof(msg));
#endif
	if (rc)
		rpc_die("connect: %s: %s", kmem_strerror(rc), msg);
	return c;
}

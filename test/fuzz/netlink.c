/* See LICENSE file for copyright and license details. */
/*
 * netlink.c's reply parser on bytes the kernel would never send: the input
 * is one datagram, read as an answer to the sequence number of its first
 * message (so real replies, the seeds, are read whole), then to another
 * (all skipped), then without a place for data, then once more into the
 * same NlNet, as a dump's later datagrams are. What was kept must be what
 * the parser promises: bounded counts, terminated names, addresses of
 * their family's size, prefixes that fit; an error must come with errno
 * and a terminated message.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../../husk.h"
#include "fuzz.h"

static void
fuzzinit(void)
{
}

static unsigned
bits(int family)
{
	return family == AF_INET ? 32 : family == AF_INET6 ? 128 : 0;
}

static void
check(const NlNet *net)
{
	size_t i;

	if (net->nlinks > NL_MAXENT || net->naddrs > NL_MAXENT ||
	    net->nroutes > NL_MAXENT || net->nneighs > NL_MAXENT ||
	    net->nqdiscs > NL_MAXENT)
		abort();
	for (i = 0; i < net->nlinks; i++)
		if (!memchr(net->links[i].name, 0, sizeof(net->links[i].name)) ||
		    !memchr(net->links[i].kind, 0, sizeof(net->links[i].kind)) ||
		    net->links[i].maclen > sizeof(net->links[i].mac))
			abort();
	for (i = 0; i < net->naddrs; i++)
		if (!bits(net->addrs[i].family) ||
		    net->addrs[i].prefix > bits(net->addrs[i].family))
			abort();
	for (i = 0; i < net->nroutes; i++)
		if (!bits(net->routes[i].family) ||
		    net->routes[i].dstlen > bits(net->routes[i].family))
			abort();
	for (i = 0; i < net->nneighs; i++)
		if (!bits(net->neighs[i].family) || !net->neighs[i].lllen ||
		    net->neighs[i].lllen > sizeof(net->neighs[i].lladdr))
			abort();
	for (i = 0; i < net->nqdiscs; i++)
		if (!memchr(net->qdiscs[i].kind, 0, sizeof(net->qdiscs[i].kind)))
			abort();
}

static int
parse(const uint8_t *data, size_t size, uint32_t seq, NlNet *net)
{
	char err[ERRLEN];
	int r;

	errno = 0;
	memset(err, 'x', sizeof(err));
	r = nl_parse(data, size, seq, net, err);
	if (r < -1 || r > 1)
		abort();
	if (r < 0 && (!errno || !memchr(err, 0, sizeof(err))))
		abort();
	if (net)
		check(net);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t seq = 0;
	NlNet net;

	if (size >= 12)
		memcpy(&seq, data + 8, sizeof(seq));	/* nlmsg_seq */
	memset(&net, 0, sizeof(net));
	if (parse(data, size, seq, &net) == 0)
		parse(data, size, seq, &net);
	parse(data, size, seq + 1, &net);
	parse(data, size, seq, NULL);
	nl_netfree(&net);
	return 0;
}

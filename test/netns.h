/* See LICENSE file for copyright and license details. */
/*
 * For the tests that need real links in a namespace of their own
 * (netlink_test, podnet_test): a fresh network namespace, the thread
 * staying in its own, and a veth pair made through netlink.c's request
 * builder. Include after husk.h.
 */
#include <linux/veth.h>

static int nsfd = -1, homefd = -1;	/* the fresh namespace, the test's own */
static char nspath[64];			/* nsfd as a path, for nl_open */

/* a fresh namespace (nsfd, nspath), the thread back in its own; -1 and a
 * SKIP line where it cannot be made */
static int
mkns(void)
{
	if (geteuid() != 0) {
		printf("SKIP netns: needs root\n");
		return -1;
	}
	if ((homefd = open("/proc/thread-self/ns/net", O_RDONLY)) < 0 ||
	    unshare(CLONE_NEWNET) < 0) {
		printf("SKIP netns: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return -1;
	}
	nsfd = open("/proc/thread-self/ns/net", O_RDONLY);
	if (setns(homefd, CLONE_NEWNET) < 0 || nsfd < 0) {
		printf("FAIL netns: cannot go home: %s\n", strerror(errno));
		exit(1);
	}
	snprintf(nspath, sizeof(nspath), "/proc/self/fd/%d", nsfd);
	return 0;
}

static int
haslink(Nl *nl, const char *name)
{
	char err[ERRLEN];
	NlLink l;

	return nl_linkbyname(nl, name, &l, err) == 0;
}

/* a veth pair a, b in nl's namespace */
static int
addveth(Nl *nl, const char *a, const char *b, char *err)
{
	struct ifinfomsg ifi;
	size_t li, data, peer;
	NlReq r;

	memset(&ifi, 0, sizeof(ifi));
	nl_req(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof(ifi));
	nl_attr(&r, IFLA_IFNAME, a, strlen(a) + 1);
	li = nl_nest(&r, IFLA_LINKINFO);
	nl_attr(&r, IFLA_INFO_KIND, "veth", 4);
	data = nl_nest(&r, IFLA_INFO_DATA);
	peer = nl_nest(&r, VETH_INFO_PEER);
	nl_put(&r, &ifi, sizeof(ifi));
	nl_attr(&r, IFLA_IFNAME, b, strlen(b) + 1);
	nl_end(&r, peer);
	nl_end(&r, data);
	nl_end(&r, li);
	return nl_talk(nl, &r, NULL, "add veth", err);
}

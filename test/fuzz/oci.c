/* See LICENSE file for copyright and license details. */
/*
 * oci_parse on a config.json a container image or its user wrote: it
 * must accept or refuse with a message, never read past the buffer, and
 * leave a spec whose every list is terminated and every count true.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../husk.h"
#include "fuzz.h"

static void
fuzzinit(void)
{
}

static void
strs(char **v)
{
	for (; v && *v; v++)
		(void)strlen(*v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[ERRLEN];
	OciSpec s;
	size_t i;

	err[0] = '\0';
	if (oci_parse(&s, (const char *)data, size, err) < 0) {
		if (!err[0] || !memchr(err, '\0', sizeof(err)))
			abort();	/* a refusal always says why */
		return 0;
	}
	strs(s.args);
	strs(s.env);
	if (!s.args || !s.env || !s.cwd)
		abort();
	for (i = 0; i < s.nmounts; i++) {
		(void)strlen(s.mounts[i].dest);
		strs(s.mounts[i].options);
	}
	for (i = 0; i < s.nns; i++)
		(void)strlen(s.ns[i].type);
	for (i = 0; i < s.nanno; i++)
		(void)(strlen(s.annokeys[i]) + strlen(s.annovals[i]));
	for (i = 0; i < s.ngids; i++)
		(void)s.gids[i];
	for (i = 0; i < s.nrlimits; i++)
		(void)s.rlimits[i].hard;
	oci_free(&s);
	return 0;
}

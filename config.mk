# husk version
VERSION = 0.1

# paths
PREFIX = /usr/local
MANPREFIX = $(PREFIX)/share/man

# compiler: musl-gcc for a small static binary (Debian's musl-tools,
# installed here when missing and make runs as root with apt-get, as
# kernel/build installs what it needs); cc where it cannot be had
CC != command -v musl-gcc >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
	command -v apt-get >/dev/null 2>&1 && \
	echo "make: installing musl-tools for a small static husk" >&2 && \
	{ DEBIAN_FRONTEND=noninteractive apt-get install -y -q musl-tools || \
	{ apt-get update -q && DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -q musl-tools; }; } >&2; }; \
	command -v musl-gcc >/dev/null 2>&1 && echo musl-gcc || \
	{ echo "make: no musl-gcc: building with cc, a larger binary" >&2; echo cc; }

# musl-gcc does not see the kernel's headers; kh/ links them in
CPPFLAGS = -D_GNU_SOURCE -DVERSION=\"$(VERSION)\" -isystem kh
CFLAGS = -std=c99 -pedantic -Wall -Wextra -Os
LDFLAGS = -static -pthread -s

# unit tests under the sanitizers (glibc gcc; they cannot link static)
SANCC = cc
SANFLAGS = -std=c99 -pedantic -Wall -Wextra -g -O1 -D_GNU_SOURCE \
	-DVERSION=\"$(VERSION)\" -fsanitize=address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer -pthread

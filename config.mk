# husk version
VERSION = 0.1

# paths
PREFIX = /usr/local
MANPREFIX = $(PREFIX)/share/man

# compiler: musl-gcc for a small static binary where present
CC != command -v musl-gcc >/dev/null 2>&1 && echo musl-gcc || echo cc

# musl-gcc does not see the kernel's headers; kh/ links them in
CPPFLAGS = -D_GNU_SOURCE -DVERSION=\"$(VERSION)\" -isystem kh
CFLAGS = -std=c99 -pedantic -Wall -Wextra -Os
LDFLAGS = -static -pthread -s

# unit tests under the sanitizers (glibc gcc; they cannot link static)
SANCC = cc
SANFLAGS = -std=c99 -pedantic -Wall -Wextra -g -O1 -D_GNU_SOURCE \
	-DVERSION=\"$(VERSION)\" -fsanitize=address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer -pthread

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* seccomp-mode.c - which mode a COMMAND needs, read from its ELF headers:
 * a dynamically linked program (PT_INTERP) gets the preload; a static one
 * (no PT_INTERP) or a Go program (Go build information: Go makes its system
 * calls itself, cgo or not) gets the supervisor. Also whether it is setuid,
 * setgid or has file capabilities (no_new_privs would silently drop them). */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "seccomp.h"

/* Finds COMMAND as execvp(3) would (PATH, or the name itself with a '/'). */
static int find_command(const char *command, char *out, size_t len)
{
	const char *path = getenv("PATH");
	struct stat st;

	if (strchr(command, '/')) {
		snprintf(out, len, "%s", command);
		return access(out, F_OK) == 0 ? 0 : -1;
	}
	if (!path)
		path = "/bin:/usr/bin"; /* glibc's default */
	while (*path) {
		size_t n = strcspn(path, ":");
		int w = n ? snprintf(out, len, "%.*s/%s", (int)n, path, command)
			  : snprintf(out, len, "%s", command);
		if (w > 0 && (size_t)w < len && stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(out, X_OK) == 0)
			return 0;
		path += n;
		if (*path == ':')
			path++;
	}
	return -1;
}

static bool read_at(int fd, off_t off, void *buf, size_t len)
{
	return pread(fd, buf, len, off) == (ssize_t)len;
}

/* Does the section table name a ".go.buildinfo" section, or a PT_NOTE hold
 * the Go build ID (owner "Go", type 4)? Each table is read in one go. */
static bool has_go_buildinfo(int fd, const Elf64_Ehdr *eh)
{
	bool found = false;

	if (eh->e_shoff && eh->e_shentsize == sizeof(Elf64_Shdr) && eh->e_shnum > 0 &&
	    eh->e_shnum < 4096 && eh->e_shstrndx < eh->e_shnum) {
		Elf64_Shdr *sh = calloc(eh->e_shnum, sizeof(*sh));
		char *names = NULL;
		if (sh && read_at(fd, (off_t)eh->e_shoff, sh, eh->e_shnum * sizeof(*sh))) {
			const Elf64_Shdr *str = &sh[eh->e_shstrndx];
			if (str->sh_size > 0 && str->sh_size < (1u << 20) &&
			    (names = malloc(str->sh_size + 1)) &&
			    read_at(fd, (off_t)str->sh_offset, names, str->sh_size)) {
				names[str->sh_size] = '\0';
				for (unsigned i = 0; i < eh->e_shnum && !found; i++)
					found = sh[i].sh_name < str->sh_size &&
						strcmp(names + sh[i].sh_name, ".go.buildinfo") == 0;
			}
		}
		free(names);
		free(sh);
	}
	for (unsigned i = 0; i < eh->e_phnum && i < 256 && !found; i++) {
		Elf64_Phdr ph;
		unsigned char note[64];
		if (!read_at(fd, (off_t)(eh->e_phoff + (Elf64_Off)i * sizeof(ph)), &ph, sizeof(ph)) ||
		    ph.p_type != PT_NOTE)
			continue;
		size_t n = ph.p_filesz < sizeof(note) ? ph.p_filesz : sizeof(note);
		if (n < 16 || !read_at(fd, (off_t)ph.p_offset, note, n))
			continue;
		Elf64_Nhdr nh;
		memcpy(&nh, note, sizeof(nh));
		found = nh.n_namesz == 4 && nh.n_type == 4 && memcmp(note + 12, "Go\0\0", 4) == 0;
	}
	return found;
}

enum sc_binary sc_inspect(const char *command, char *path_out, size_t len, bool *setid)
{
	char path[PATH_MAX];
	Elf64_Ehdr eh;
	struct stat st;
	bool interp = false;
	int fd;

	*setid = false;
	if (find_command(command, path, sizeof(path)) < 0)
		return SC_BIN_UNKNOWN;
	if (path_out)
		snprintf(path_out, len, "%s", path);
	if (stat(path, &st) == 0)
		*setid = (st.st_mode & S_ISUID) ||
			 ((st.st_mode & S_ISGID) && (st.st_mode & S_IXGRP)) ||
			 getxattr(path, "security.capability", NULL, 0) > 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return SC_BIN_UNKNOWN;
	if (!read_at(fd, 0, &eh, sizeof(eh)) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr) ||
	    (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)) {
		close(fd); /* a script, another class: the preload, as before */
		return SC_BIN_UNKNOWN;
	}
	for (unsigned i = 0; i < eh.e_phnum && i < 256; i++) {
		Elf64_Phdr ph;
		if (read_at(fd, (off_t)(eh.e_phoff + (Elf64_Off)i * sizeof(ph)), &ph, sizeof(ph)) &&
		    ph.p_type == PT_INTERP)
			interp = true;
	}
	enum sc_binary kind = has_go_buildinfo(fd, &eh) ? SC_BIN_GO
			      : interp			 ? SC_BIN_DYNAMIC
							 : SC_BIN_STATIC;
	close(fd);
	return kind;
}

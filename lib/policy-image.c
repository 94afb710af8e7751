/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* policy-image.c - compiled policies: checking an image's header, mapping
 * FILE.compiled when it is the image of FILE as it is now, and writing it
 * (for mptcpify-run). The layout is in policy-int.h.
 *
 * When an image is used (all must hold, else the file is parsed):
 * - FILE.compiled is a regular file owned by FILE's owner, by root or by
 *   this process's user, and writable by nobody who cannot write FILE;
 * - its header is one this code wrote: magic, version, byte order, element
 *   sizes, total size equal to the file's, every section inside;
 * - it was built from this very FILE: device, inode, size, mtime and ctime
 *   as fstat(2) reports them now. A write changes ctime, which no user can
 *   set back; a replacement (rename) changes the inode. The one gap is a
 *   change within the file system's timestamp step of the read: an image
 *   read that close to the file's last change is marked racy, and then the
 *   hash of FILE's bytes must match too (read and hashed: about 1 ms per
 *   MiB). mptcpify-run writes it again, unmarked, once the moment is past.
 *
 * Writers replace the image by rename(2), never in place: a process that
 * has the old one mapped keeps reading the old, complete bytes. (Truncating
 * a mapped image in place, e.g. with cp, would make such a process fault;
 * policy_image_write never does that.) */
#include "policy-int.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h> /* rename(): only the writer, which the shim never calls */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void pol_close(int fd)
{
	/* the shim interposes close(): a call from inside the library would
	 * reach its own fd bookkeeping for a descriptor it never made */
	syscall(SYS_close, fd);
}

uint64_t pol_hash(const void *buf, size_t n)
{
	const unsigned char *s = buf;
	uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ n, w;
	size_t i = 0;

	/* a multiply-xorshift per 8 bytes: ~1 ns per word, and every byte
	 * reaches every bit of the result */
	for (; i + 8 <= n; i += 8) {
		__builtin_memcpy(&w, s + i, 8);
		h = (h ^ w) * UINT64_C(0xff51afd7ed558ccd);
		h ^= h >> 32;
	}
	for (w = 0; i < n; i++)
		w = w << 8 | s[i];
	h = (h ^ w) * UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 29;
	h *= UINT64_C(0xff51afd7ed558ccd);
	return h ^ (h >> 32);
}

/* Does the section at OFF of COUNT elements of SIZE bytes lie inside an
 * image of TOTAL bytes, after its header, aligned for its elements? */
static bool section_ok(uint64_t off, uint64_t count, uint64_t size, uint64_t total)
{
	return off >= sizeof(struct img_header) && off % 16 == 0 && off <= total &&
	       count * size <= total - off;
}

int pol_image_check(const void *img, size_t size)
{
	const struct img_header *h = img;
	unsigned i;

	if (size < sizeof(*h) || size > IMG_MAX_SIZE || ((uintptr_t)img & 15))
		return -EINVAL;
	for (i = 0; i < 8; i++)
		if (h->magic[i] != IMG_MAGIC[i])
			return -EINVAL;
	if (h->version != IMG_VERSION || h->byte_order != IMG_BYTE_ORDER ||
	    h->elem_size != IMG_ELEM_SIZE || h->size != size ||
	    (h->flags & ~(IMG_FROM_FILE | IMG_RACY)))
		return -EINVAL;
	if (!section_ok(h->off_rules, h->nrules, sizeof(struct rule_ref), size) ||
	    !section_ok(h->off_nodes, h->nnodes, sizeof(struct node), size) ||
	    !section_ok(h->off_pool, h->npool, sizeof(struct port_iv), size) ||
	    !section_ok(h->off_text, h->text_size, 1, size) ||
	    ((h->flags & IMG_FROM_FILE) &&
	     !section_ok(h->off_lines, h->nrules, sizeof(uint32_t), size)))
		return -EINVAL;
	if (h->nnodes < 2 || h->root[0] >= h->nnodes || h->root[1] >= h->nnodes)
		return -EINVAL;
	return 0;
}

/* Handles of mapped images: the first few are static (in a page of the
 * library's data that start-up has touched already: no mmap, no page
 * fault); once used they stay used. */
#define STATIC_HANDLES 4
static struct policy static_handles[STATIC_HANDLES];
static atomic_uint static_used;

/* A handle over the checked image IMG. */
static int handle_new(const struct img_header *img, void *map, size_t map_size,
		      struct policy **out)
{
	unsigned k = atomic_fetch_add_explicit(&static_used, 1, memory_order_relaxed);
	size_t self = 0;
	struct policy *p;

	if (k < STATIC_HANDLES) {
		p = &static_handles[k];
	} else {
		self = PAGE_ROUND(sizeof(struct policy));
		p = map_alloc(self);
		if (!p)
			return -ENOMEM;
	}
	*p = (struct policy){ 0 };
	pol_handle_init(p, img);
	p->origin = POLICY_FROM_IMAGE;
	p->map = map;
	p->map_size = map_size;
	p->self_size = self;
	p->static_handle = self == 0;
	*out = p;
	return 0;
}

int pol_image_open(const void *buf, size_t size, struct policy **out)
{
	if (pol_image_check(buf, size))
		return -EINVAL;
	return handle_new(buf, NULL, 0, out);
}

/* Fills ID from ST (the hash is left alone). */
void pol_source_id(struct img_source *id, const struct stat *st)
{
	id->dev = (uint64_t)st->st_dev;
	id->ino = (uint64_t)st->st_ino;
	id->size = (uint64_t)st->st_size;
	id->mtime_sec = (int64_t)st->st_mtim.tv_sec;
	id->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
	id->ctime_sec = (int64_t)st->st_ctim.tv_sec;
	id->ctime_nsec = (uint32_t)st->st_ctim.tv_nsec;
}

static bool same_source(const struct img_source *a, const struct img_source *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec &&
	       a->ctime_sec == b->ctime_sec && a->ctime_nsec == b->ctime_nsec;
}

/* May the file with status IMG stand in for the source with status SRC?
 * Nobody may be able to write it who cannot write the source. */
static bool trusted(const struct stat *img, const struct stat *src)
{
	if (!S_ISREG(img->st_mode))
		return false;
	if (img->st_uid != src->st_uid && img->st_uid != 0 && img->st_uid != geteuid())
		return false;
	return ((img->st_mode & 022) & ~(src->st_mode & 022)) == 0;
}

int pol_read_all(int fd, char *buf, size_t size, size_t *got)
{
	size_t n = 0;

	while (n < size) {
		ssize_t r = pread(fd, buf + n, size - n, (off_t)n);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*got = n;
	return 0;
}

/* Is the open file FD, of SIZE bytes, still the one hashed as HASH? */
static bool hash_matches(int fd, size_t size, uint64_t hash)
{
	size_t map = PAGE_ROUND(size + 1), got = 0;
	char *buf = map_alloc(map);
	bool ok;

	if (!buf)
		return false;
	ok = pol_read_all(fd, buf, size + 1, &got) == 0 && got == size &&
	     pol_hash(buf, size) == hash;
	munmap(buf, map);
	return ok;
}

int pol_image_map(const char *img_path, int src_fd, const struct stat *src_st,
		  struct policy **out)
{
	struct img_source id;
	const struct img_header *h;
	struct stat st;
	void *map;
	size_t size;
	int fd, rc;

	fd = open(img_path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !trusted(&st, src_st) ||
	    st.st_size < (off_t)sizeof(*h) || st.st_size > (off_t)IMG_MAX_SIZE) {
		pol_close(fd);
		return -EINVAL;
	}
	size = (size_t)st.st_size;
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	pol_close(fd);
	if (map == MAP_FAILED)
		return -ENOMEM;
	h = map;
	pol_source_id(&id, src_st);
	rc = -EINVAL;
	if (pol_image_check(map, size) || !(h->flags & IMG_FROM_FILE) ||
	    !same_source(&h->src, &id))
		goto fail;
	if (h->flags & IMG_RACY) {
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		if (!hash_matches(src_fd, (size_t)id.size, h->src.hash))
			goto fail;
		rc = handle_new(h, map, size, out);
		if (rc)
			goto fail;
		(*out)->read_sec = (int64_t)now.tv_sec;
		return 0;
	}
	rc = handle_new(h, map, size, out);
	if (rc)
		goto fail;
	return 0;
fail:
	munmap(map, size);
	return rc;
}

bool pol_image_path(const char *path, char *buf, size_t size)
{
	struct sbuf b;

	sb_init(&b, buf, size);
	sb_puts(&b, path);
	sb_puts(&b, POLICY_IMAGE_SUFFIX);
	return size && !b.cut;
}

static int write_all(int fd, const char *buf, size_t n)
{
	while (n) {
		ssize_t w = write(fd, buf, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

int policy_image_write(const struct policy *p, const char *path)
{
	char img_path[4096], tmp[4096];
	struct img_header h;
	struct img_source id;
	struct sbuf tb;
	struct stat st;
	size_t size;
	const char *bytes;
	int fd, rc;

	if (!p || !path || !(p->img->flags & IMG_FROM_FILE))
		return -EINVAL;
	if (p->origin == POLICY_FROM_IMAGE && !(p->img->flags & IMG_RACY))
		return 1;
	h = *p->img;
	/* Racy now? Then the image needs its hash checked by every reader. */
	if (h.src.ctime_sec + IMG_RACY_SECONDS >= p->read_sec)
		h.flags |= IMG_RACY;
	else
		h.flags &= ~IMG_RACY;
	if (p->origin == POLICY_FROM_IMAGE && h.flags == p->img->flags)
		return 1;
	/* Bound to the file as it is now, or not written at all. */
	if (stat(path, &st) < 0)
		return -errno;
	pol_source_id(&id, &st);
	if (!S_ISREG(st.st_mode) || !same_source(&h.src, &id))
		return -ESTALE;
	if (!pol_image_path(path, img_path, sizeof(img_path)))
		return -ENAMETOOLONG;
	/* IMAGE.PID.tmp, renamed over IMAGE once complete */
	sb_init(&tb, tmp, sizeof(tmp));
	sb_puts(&tb, img_path);
	sb_putc(&tb, '.');
	sb_putu(&tb, (unsigned long)getpid());
	sb_puts(&tb, ".tmp");
	if (tb.cut)
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno == EEXIST) {
		/* left by a process of the same pid that died mid-write */
		unlink(tmp);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	}
	if (fd < 0)
		return -errno;
	bytes = pol_image_bytes(p, &size);
	rc = write_all(fd, (const char *)&h, sizeof(h));
	if (!rc)
		rc = write_all(fd, bytes + sizeof(h), size - sizeof(h));
	/* as readable as the source, and writable by nobody who cannot write
	 * the source (the reader checks just that) */
	if (!rc && geteuid() == 0 && fchown(fd, st.st_uid, st.st_gid) < 0)
		rc = -errno;
	if (!rc && fchmod(fd, st.st_mode & 0666) < 0)
		rc = -errno;
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	pol_close(fd);
	if (!rc && rename(tmp, img_path) < 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* seccomp-maps.h - reading a process's memory map (seccomp-maps.c). */
#ifndef MPTCPIFY_SECCOMP_MAPS_H
#define MPTCPIFY_SECCOMP_MAPS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Are the LEN bytes at ADDR inside mappings that allow ACCESS ('r' or
 * 'w'), by the maps text read from FD (lines sorted by address, as the
 * kernel writes /proc/PID/maps)? False for a range that wraps or lies above
 * 2^63, crosses a gap or a mapping without the permission, or when FD
 * cannot be read. Lines longer than the 4 KiB buffer (long file names)
 * are judged by their start. */
bool sc_maps_allow(int fd, uint64_t addr, size_t len, char access);

#endif

/* lab-mmap FILE: writes a page through a writable shared mapping of FILE, then reads it back
 * with read(2) from a fresh descriptor. The lab's agent runs it on FUSE roots (glusterfs),
 * where shared writable mmap is the part most likely to be missing. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const size_t len = 4096;
	char want[64], got[64];
	if (argc != 2) {
		fprintf(stderr, "usage: lab-mmap FILE\n");
		return 2;
	}
	snprintf(want, sizeof want, "srbuild mmap check pid %ld", (long)getpid());
	int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, len) != 0) {
		perror("open/ftruncate");
		return 1;
	}
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		perror("mmap MAP_SHARED PROT_WRITE");
		return 1;
	}
	memcpy(p, want, strlen(want) + 1);
	if (msync(p, len, MS_SYNC) != 0) {
		perror("msync");
		return 1;
	}
	munmap(p, len);
	close(fd);
	fd = open(argv[1], O_RDONLY);
	memset(got, 0, sizeof got);
	if (fd < 0 || read(fd, got, strlen(want) + 1) < 0) {
		perror("reopen/read");
		return 1;
	}
	close(fd);
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "read back '%s', wrote '%s'\n", got, want);
		return 1;
	}
	printf("ok: %s\n", want);
	return 0;
}

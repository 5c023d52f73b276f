//go:build musl

package seccomp

// hull is linked against musl (see the Makefile's LIBC) with Debian's libseccomp.a,
// which was compiled against glibc with _FORTIFY_SOURCE. Of glibc's fortified entry
// points it needs only __fprintf_chk (in its pseudo-filter-code printer); every other
// libc symbol it uses has the same x86-64 ABI in musl. musl has no _chk functions, so
// this one is provided here, minus the check, which only guards %n in writable formats.

/*
#include <stdarg.h>
#include <stdio.h>

int __fprintf_chk(FILE *f, int flag, const char *format, ...)
{
	va_list ap;
	int n;

	(void)flag;
	va_start(ap, format);
	n = vfprintf(f, format, ap);
	va_end(ap);
	return n;
}
*/
import "C"

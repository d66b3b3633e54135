/**
 * Kernel error numbers as the model returns them: expected failures are values, never exceptions
 * (STYLE.md point 8). The names are the kernel's; the numbers are Linux's asm-generic values, for
 * reports that print `-22 (EINVAL)` the way a user program would see it.
 */

/** The errno values the modelled kernel paths return. */
export const ERRNO = {
  EINTR: 4,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EFAULT: 14,
  EBUSY: 16,
  ENODEV: 19,
  EINVAL: 22,
  EMFILE: 24,
  ENOTTY: 25,
  EOVERFLOW: 75,
  EOPNOTSUPP: 95,
  ETIMEDOUT: 110,
} as const;

/** One errno, by name. */
export type Errno = keyof typeof ERRNO;

/** A value or the errno a kernel path failed with. */
export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errno: Errno };

/** Formats an errno the way the kernel returns it: `-22 (EINVAL)`. */
export function formatErrno(errno: Errno): string {
  return `-${ERRNO[errno]} (${errno})`;
}

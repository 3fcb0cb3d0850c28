/*
 * Base64 (RFC 4648), as Kubernetes uses it for Secret data and kubeconfig
 * certificate fields.
 */
#ifndef KS_CORE_BASE64_H
#define KS_CORE_BASE64_H

#include <stddef.h>

/* Encodes (p, n) with padding into a new NUL-terminated heap string. */
char *ks_base64_encode(const void *p, size_t n);

/* Decodes S (standard or URL alphabet; padding and white space ignored)
 * into a new heap buffer, NUL-terminated for convenience, with its length
 * in *outlen. Returns KS_EINVAL, with nothing allocated, on a character
 * outside the alphabets. */
int ks_base64_decode(const char *s, char **out, size_t *outlen);

#endif

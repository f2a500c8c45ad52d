#include "common/crc32.h"

#include <pthread.h>
#include <zlib.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* Folding (the method of Intel's paper "Fast CRC Computation for Generic Polynomials Using
 * PCLMULQDQ"). In the reflected bit order, a 64-bit lane A stands for sum a_i x^(63-i), and
 * the carry-less product of two lanes is their product times x. A 128-bit accumulator
 * X = LO x^64 + HI moves F bits down the message as LO (x^(63+F) mod P) x + HI (x^(F-1)
 * mod P) x, which is congruent to X x^F and of degree below 96: it is XORed into the
 * block F bits on. At the end the accumulator, taken as a 16-byte message, has the same
 * remainder as everything folded into it, so a table CRC of those 16 bytes finishes. The
 * constants are computed here rather than written out. */

#define POLY 0x104C11DB7ull

static uint64_t k_fold4[2], k_fold1[2];
static int have_clmul;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* x^k mod P, bit d standing for x^d. */
static uint32_t xpow_mod(unsigned k)
{
	uint64_t r = 1;

	while (k--) {
		r <<= 1;
		if (r & (1ull << 32))
			r ^= POLY;
	}
	return (uint32_t)r;
}

/* A remainder of degree below 32 as a reflected 64-bit lane: x^d at bit 63 - d. */
static uint64_t lane(uint32_t q)
{
	uint64_t r = 0;

	for (int d = 0; d < 32; d++)
		if (q & (1u << d))
			r |= 1ull << (63 - d);
	return r;
}

static void setup(void)
{
	k_fold4[0] = lane(xpow_mod(63 + 512));
	k_fold4[1] = lane(xpow_mod(512 - 1));
	k_fold1[0] = lane(xpow_mod(63 + 128));
	k_fold1[1] = lane(xpow_mod(128 - 1));
	__builtin_cpu_init();
	have_clmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}

__attribute__((target("pclmul,sse4.1"))) static inline __m128i fold(__m128i x, __m128i k, __m128i next)
{
	return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11)), next);
}

__attribute__((target("pclmul,sse4.1"))) static uint32_t crc32_clmul(uint32_t crc, const unsigned char *p, size_t n)
{
	const __m128i k4 = _mm_set_epi64x((long long)k_fold4[1], (long long)k_fold4[0]);
	const __m128i k1 = _mm_set_epi64x((long long)k_fold1[1], (long long)k_fold1[0]);
	__m128i x0 = _mm_loadu_si128((const __m128i *)p), x1 = _mm_loadu_si128((const __m128i *)(p + 16)),
		x2 = _mm_loadu_si128((const __m128i *)(p + 32)), x3 = _mm_loadu_si128((const __m128i *)(p + 48));
	unsigned char rest[16];

	/* zlib's crc starts the register at ~crc: the same as XORing it into the first bytes */
	x0 = _mm_xor_si128(x0, _mm_cvtsi32_si128((int)~crc));
	for (p += 64, n -= 64; n >= 64; p += 64, n -= 64) {
		x0 = fold(x0, k4, _mm_loadu_si128((const __m128i *)p));
		x1 = fold(x1, k4, _mm_loadu_si128((const __m128i *)(p + 16)));
		x2 = fold(x2, k4, _mm_loadu_si128((const __m128i *)(p + 32)));
		x3 = fold(x3, k4, _mm_loadu_si128((const __m128i *)(p + 48)));
	}
	x0 = fold(fold(fold(x0, k1, x1), k1, x2), k1, x3);
	for (; n >= 16; p += 16, n -= 16)
		x0 = fold(x0, k1, _mm_loadu_si128((const __m128i *)p));
	_mm_storeu_si128((__m128i *)rest, x0);
	/* from a register of 0: zlib's crc32 with 0xffffffff, whose result is inverted again */
	crc = (uint32_t)crc32(0xffffffffUL, rest, sizeof(rest));
	return n ? (uint32_t)crc32(crc, p, (uInt)n) : crc;
}

uint32_t wp_crc32(uint32_t crc, const void *data, size_t len)
{
	pthread_once(&once, setup);
	if (len >= 256 && have_clmul)
		return crc32_clmul(crc, data, len);
	return (uint32_t)crc32_z(crc, data, len);
}

#else

uint32_t wp_crc32(uint32_t crc, const void *data, size_t len)
{
	return (uint32_t)crc32_z(crc, data, len);
}

#endif

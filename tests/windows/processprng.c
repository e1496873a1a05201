/*
 * bcryptprimitives.dll for wine 8: exports ProcessPrng, which Rust's std (1.78 and later)
 * imports for its random numbers (HashMap keys) and which wine gained only in 9.x. Without
 * it the loader refuses every Rust executable ("Library bcryptprimitives.dll ... not
 * found", exit 53). Built by tests/windows/run.sh with mingw and placed next to the test
 * executables; Windows 10 and later ship the real DLL, so this is for wine only.
 *
 * ProcessPrng never fails on Windows (it returns TRUE always); here it returns FALSE if
 * BCryptGenRandom does, so a broken generator shows instead of handing out zeros.
 */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    /* BCryptGenRandom takes a ULONG length: feed larger requests in slices. */
    while (len > 0) {
        ULONG chunk = len > 0x40000000u ? 0x40000000u : (ULONG)len;
        if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}

/*
 * A stand-in bcryptprimitives.dll for running Windows test binaries under
 * Wine, in CI only: Rust's std gets its random bytes from ProcessPrng, which
 * Wine 8 does not have. This forwards to RtlGenRandom (advapi32's
 * SystemFunction036), the system's cryptographic generator.
 *
 * Build: x86_64-w64-mingw32-gcc -shared -O2 -s -o bcryptprimitives.dll processprng.c -ladvapi32
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    /* RtlGenRandom takes a ULONG length: fill larger buffers in parts. */
    while (length > 0) {
        ULONG part = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, part))
            return FALSE;
        data += part;
        length -= part;
    }
    return TRUE;
}

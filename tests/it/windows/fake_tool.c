/*
 * A stand-in Windows developer tool (pwsh.exe, powershell.exe, azd.exe) for
 * the black-box tests under Wine (tests/it/windows/tools.rs), which build it
 * with mingw-w64 and copy it under each tool's name.
 *
 * In the directory named by GCE_FAKE_TOOL_STATE it appends its command line
 * (GetCommandLineW, one line per run) to `calls` and writes its working
 * directory to `cwd`; then it prints the `stdout` file and exits with the
 * number in the `status` file.
 *
 * Build: x86_64-w64-mingw32-gcc -municode -O2 -s -o fake_tool.exe fake_tool.c
 */
#include <windows.h>
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>

static wchar_t state[MAX_PATH];

static FILE *open_state(const wchar_t *name, const wchar_t *mode)
{
    wchar_t path[MAX_PATH * 2];
    _snwprintf(path, MAX_PATH * 2, L"%ls\\%ls", state, name);
    path[MAX_PATH * 2 - 1] = 0;
    return _wfopen(path, mode);
}

/* Writes `text` in UTF-8, then a newline. */
static void put_line(FILE *f, const wchar_t *text)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, text, -1, NULL, 0, NULL, NULL);
    char *utf8 = malloc(n > 0 ? n : 1);
    if (utf8 && n > 0 && WideCharToMultiByte(CP_UTF8, 0, text, -1, utf8, n, NULL, NULL) > 0)
        fprintf(f, "%s\n", utf8);
    free(utf8);
}

int wmain(void)
{
    DWORD got = GetEnvironmentVariableW(L"GCE_FAKE_TOOL_STATE", state, MAX_PATH);
    if (got == 0 || got >= MAX_PATH) {
        fputs("fake tool: GCE_FAKE_TOOL_STATE is not set\n", stderr);
        return 70;
    }
    FILE *f = open_state(L"calls", L"ab");
    if (!f)
        return 71;
    put_line(f, GetCommandLineW());
    fclose(f);

    wchar_t cwd[MAX_PATH];
    f = open_state(L"cwd", L"wb");
    if (!f || !GetCurrentDirectoryW(MAX_PATH, cwd))
        return 72;
    put_line(f, cwd);
    fclose(f);

    /* As written: no \n to \r\n translation. */
    _setmode(_fileno(stdout), _O_BINARY);
    f = open_state(L"stdout", L"rb");
    if (f) {
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            fwrite(buf, 1, n, stdout);
        fclose(f);
    }
    fflush(stdout);

    int status = 1;
    f = open_state(L"status", L"rb");
    if (f) {
        if (fscanf(f, "%d", &status) != 1)
            status = 1;
        fclose(f);
    }
    return status;
}

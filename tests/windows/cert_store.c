/*
 * Adds a certificate to, or removes it from, a Windows "ROOT" certificate store, the way an
 * administrator or an installer does (crypt32), so that tests/windows/system_store.sh can
 * check that SSE_TRUST_SYSTEM reads the real store. Built with x86_64-w64-mingw32-gcc, run
 * under wine.
 *
 *   cert_store.exe add    user|machine CERT.der   CurrentUser or LocalMachine ROOT
 *   cert_store.exe remove user|machine CERT.der
 *   cert_store.exe has    user|machine CERT.der   exit 0 if the store lists it, 3 if not
 *
 * "user" is the store rustls-native-certs reads (CurrentUser ROOT); on Windows its view
 * also holds the LocalMachine roots, which is where a company's CA is usually deployed.
 * Exit status: 0 done, 1 a crypt32 call failed (its error is printed), 2 bad usage or an
 * unreadable file, 3 "has" did not find the certificate.
 */
#include <windows.h>
#include <wincrypt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail_with_last_error(const char *what)
{
    fprintf(stderr, "cert_store: %s failed: error 0x%08lx\n", what, (unsigned long)GetLastError());
    exit(1);
}

/* The whole file; exits on failure. */
static BYTE *read_file(const char *path, DWORD *len)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        fprintf(stderr, "cert_store: cannot open %s\n", path);
        exit(2);
    }
    BYTE *bytes = NULL;
    size_t used = 0;
    size_t capacity = 0;
    for (;;) {
        if (used == capacity) {
            capacity = capacity ? capacity * 2 : 4096;
            bytes = realloc(bytes, capacity);
            if (bytes == NULL) {
                fprintf(stderr, "cert_store: out of memory\n");
                exit(2);
            }
        }
        size_t got = fread(bytes + used, 1, capacity - used, file);
        if (got == 0) {
            break;
        }
        used += got;
    }
    fclose(file);
    *len = (DWORD)used;
    return bytes;
}

static HCERTSTORE open_root_store(const char *location)
{
    DWORD flags;
    if (strcmp(location, "user") == 0) {
        flags = CERT_SYSTEM_STORE_CURRENT_USER;
    } else if (strcmp(location, "machine") == 0) {
        flags = CERT_SYSTEM_STORE_LOCAL_MACHINE;
    } else {
        fprintf(stderr, "cert_store: the location is user or machine, not %s\n", location);
        exit(2);
    }
    HCERTSTORE store = CertOpenStore(CERT_STORE_PROV_SYSTEM_W, 0, 0, flags, L"ROOT");
    if (store == NULL) {
        fail_with_last_error("CertOpenStore(ROOT)");
    }
    return store;
}

/* The store's copy of `cert`, or NULL. */
static PCCERT_CONTEXT find_in(HCERTSTORE store, PCCERT_CONTEXT cert)
{
    return CertFindCertificateInStore(store, X509_ASN_ENCODING | PKCS_7_ASN_ENCODING, 0,
                                      CERT_FIND_EXISTING, cert, NULL);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: cert_store.exe add|remove|has user|machine CERT.der\n");
        return 2;
    }
    const char *action = argv[1];
    DWORD der_len = 0;
    BYTE *der = read_file(argv[3], &der_len);
    PCCERT_CONTEXT cert = CertCreateCertificateContext(X509_ASN_ENCODING, der, der_len);
    if (cert == NULL) {
        fail_with_last_error("CertCreateCertificateContext (is the file DER?)");
    }
    HCERTSTORE store = open_root_store(argv[2]);
    int status = 0;

    if (strcmp(action, "add") == 0) {
        if (!CertAddCertificateContextToStore(store, cert, CERT_STORE_ADD_REPLACE_EXISTING, NULL)) {
            fail_with_last_error("CertAddCertificateContextToStore");
        }
        printf("cert_store: added %s to the %s ROOT store\n", argv[3], argv[2]);
    } else if (strcmp(action, "remove") == 0) {
        PCCERT_CONTEXT found = find_in(store, cert);
        if (found == NULL) {
            fprintf(stderr, "cert_store: %s is not in the %s ROOT store\n", argv[3], argv[2]);
            status = 3;
        } else if (!CertDeleteCertificateFromStore(found)) { /* frees `found` either way */
            fail_with_last_error("CertDeleteCertificateFromStore");
        } else {
            printf("cert_store: removed %s from the %s ROOT store\n", argv[3], argv[2]);
        }
    } else if (strcmp(action, "has") == 0) {
        PCCERT_CONTEXT found = find_in(store, cert);
        printf("cert_store: %s is %sin the %s ROOT store\n", argv[3], found ? "" : "not ", argv[2]);
        if (found != NULL) {
            CertFreeCertificateContext(found);
        } else {
            status = 3;
        }
    } else {
        fprintf(stderr, "cert_store: unknown action %s (add, remove or has)\n", action);
        status = 2;
    }
    /* A registry store is written when its last reference goes; wine 8 keeps one after a
     * delete through the collection that a system store is, so the removal would be lost
     * (measured). Committing writes it now, on Windows as well. */
    if (status == 0 && strcmp(action, "has") != 0 &&
        !CertControlStore(store, 0, CERT_STORE_CTRL_COMMIT, NULL)) {
        fail_with_last_error("CertControlStore(CERT_STORE_CTRL_COMMIT)");
    }
    fflush(stdout);
    CertCloseStore(store, 0);
    CertFreeCertificateContext(cert);
    free(der);
    return status;
}

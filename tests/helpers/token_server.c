/* A small token server for the tests: Distribution's token authentication (GET with Basic
 * credentials, or the OAuth2 form POST with a password or refresh token), granting scopes
 * per user from an ACL file and signing RS256 JWTs that carry the signing certificate in
 * x5c, which the registry checks against its rootcertbundle. Listens on 127.0.0.1 only.
 *
 *   token_server PORT KEY.pem CERT.pem ACL_FILE ISSUER
 *
 * ACL lines: "user password repository-prefix actions" ("-" as user: anonymous),
 * for example "alice s3cret demo/ pull,push". Refresh tokens are "refresh-<user>".
 * TOKEN_EXPIRES_IN (default 300) is the expires_in it answers, written as given (a huge
 * or odd value tests the client). Each token granted is logged on stdout as
 * "granted USER SCOPES". */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static EVP_PKEY *key;
static char cert_b64[8192];
static const char *acl_path, *issuer;

static void b64url(const unsigned char *in, size_t len, char *out, size_t outsz)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;

	for (size_t i = 0; i < len && o + 5 < outsz; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0) | (i + 2 < len ? in[i + 2] : 0);

		out[o++] = tbl[(v >> 18) & 63];
		out[o++] = tbl[(v >> 12) & 63];
		if (i + 1 < len)
			out[o++] = tbl[(v >> 6) & 63];
		if (i + 2 < len)
			out[o++] = tbl[v & 63];
	}
	out[o] = '\0';
}

static void url_decode(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '%' && s[1] && s[2]) {
			char hex[3] = { s[1], s[2], 0 };

			*o++ = (char)strtol(hex, NULL, 16);
			s += 2;
		} else {
			*o++ = *s == '+' ? ' ' : *s;
		}
	}
	*o = '\0';
}

/* Actions of `want` that user may have on repo, comma-joined into out. */
static void grant(const char *user, const char *repo, const char *want, char *out, size_t outsz)
{
	FILE *f = fopen(acl_path, "r");
	char line[1024], u[256], pw[256], prefix[512], actions[256];

	out[0] = '\0';
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%255s %255s %511s %255s", u, pw, prefix, actions) != 4)
			continue;
		if (strcmp(u, user) || strncmp(repo, prefix, strlen(prefix)))
			continue;
		char w[256];
		snprintf(w, sizeof(w), "%s", want);
		for (char *save = NULL, *a = strtok_r(w, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
			char pad[260];

			snprintf(pad, sizeof(pad), ",%s,", a);
			char have[260];
			snprintf(have, sizeof(have), ",%s,", actions);
			if ((strstr(have, pad) || strstr(have, ",*,")) && !strstr(out, a))
				snprintf(out + strlen(out), outsz - strlen(out), "%s\"%s\"", out[0] ? "," : "", a);
		}
	}
	if (f)
		fclose(f);
}

static int check_password(const char *user, const char *password)
{
	FILE *f = fopen(acl_path, "r");
	char line[1024], u[256], pw[256];
	int ok = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%255s %255s", u, pw) == 2 && !strcmp(u, user) && !strcmp(pw, password))
			ok = 1;
	if (f)
		fclose(f);
	return ok;
}

static void respond(int fd, int status, const char *body)
{
	char head[256];

	snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
		 status, status == 200 ? "OK" : status == 401 ? "Unauthorized" : "Bad Request", strlen(body));
	if (write(fd, head, strlen(head)) < 0 || write(fd, body, strlen(body)) < 0)
		return;
}

static void make_token(const char *user, const char *service, char scopes[][512], int nscopes, char *out, size_t outsz)
{
	char header[9000], claims[8192], access[6000] = "", h64[12500], c64[11000], sig64[1024], jti[33];
	unsigned char rnd[16], sig[1024];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	time_t now = time(NULL);
	char *signing;

	RAND_bytes(rnd, sizeof(rnd));
	for (int i = 0; i < 16; i++)
		snprintf(jti + 2 * i, 3, "%02x", rnd[i]);
	for (int i = 0; i < nscopes; i++) {
		char type[64], name[256], actions[256], granted[512];

		/* repository:NAME:ACTIONS, NAME may hold no colon here */
		if (sscanf(scopes[i], "%63[^:]:%255[^:]:%255s", type, name, actions) != 3)
			continue;
		grant(user, name, actions, granted, sizeof(granted));
		snprintf(access + strlen(access), sizeof(access) - strlen(access),
			 "%s{\"type\":\"%s\",\"name\":\"%s\",\"actions\":[%s]}", access[0] ? "," : "", type, name, granted);
	}
	snprintf(header, sizeof(header), "{\"typ\":\"JWT\",\"alg\":\"RS256\",\"x5c\":[\"%s\"]}", cert_b64);
	snprintf(claims, sizeof(claims),
		 "{\"iss\":\"%s\",\"sub\":\"%s\",\"aud\":\"%s\",\"exp\":%ld,\"nbf\":%ld,\"iat\":%ld,\"jti\":\"%s\",\"access\":[%s]}",
		 issuer, user, service, (long)now + 300, (long)now - 10, (long)now, jti, access);
	b64url((unsigned char *)header, strlen(header), h64, sizeof(h64));
	b64url((unsigned char *)claims, strlen(claims), c64, sizeof(c64));
	signing = malloc(strlen(h64) + strlen(c64) + 2);
	if (!signing)
		return;
	snprintf(signing, strlen(h64) + strlen(c64) + 2, "%s.%s", h64, c64);
	EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key);
	EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)signing, strlen(signing));
	EVP_MD_CTX_free(ctx);
	b64url(sig, siglen, sig64, sizeof(sig64));
	snprintf(out, outsz, "%s.%s", signing, sig64);
	free(signing);
}

static void handle(int fd)
{
	char req[65536], user[256] = "-", service[256] = "", scopes[16][512], *body, *q, *line, *save;
	int n = 0, nscopes = 0, got = 0, is_post;
	char token[32768], resp[33000];

	while (got < (int)sizeof(req) - 1 && (n = (int)read(fd, req + got, sizeof(req) - 1 - (size_t)got)) > 0) {
		got += n;
		req[got] = '\0';
		body = strstr(req, "\r\n\r\n");
		if (body) {
			char *cl = strcasestr(req, "\r\ncontent-length:");
			long want = cl ? strtol(cl + 17, NULL, 10) : 0;

			if (got - (body + 4 - req) >= want)
				break;
		}
	}
	req[got] = '\0';
	body = strstr(req, "\r\n\r\n");
	if (!body) {
		respond(fd, 400, "{}");
		return;
	}
	*body = '\0';
	body += 4;
	is_post = !strncmp(req, "POST ", 5);
	q = strchr(req, '?');
	for (line = strtok_r(req, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
		if (!strncasecmp(line, "Authorization: Basic ", 21)) {
			unsigned char dec[512];
			int len = EVP_DecodeBlock(dec, (unsigned char *)line + 21, (int)strlen(line + 21));
			char *colon;

			if (len < 0)
				continue;
			dec[len] = '\0';
			colon = strchr((char *)dec, ':');
			if (!colon)
				continue;
			*colon = '\0';
			if (!check_password((char *)dec, colon + 1)) {
				respond(fd, 401, "{\"details\":\"bad credentials\"}");
				return;
			}
			snprintf(user, sizeof(user), "%s", (char *)dec);
		}
	}
	/* Parameters: the query of a GET, the form of a POST. */
	{
		char params[16384];
		char *end;

		if (is_post) {
			snprintf(params, sizeof(params), "%s", body);
		} else if (q) {
			snprintf(params, sizeof(params), "%s", q + 1);
			end = strchr(params, ' ');
			if (end)
				*end = '\0';
		} else {
			params[0] = '\0';
		}
		for (char *s2 = NULL, *kv = strtok_r(params, "&", &s2); kv; kv = strtok_r(NULL, "&", &s2)) {
			char *eq = strchr(kv, '=');

			if (!eq)
				continue;
			*eq = '\0';
			url_decode(eq + 1);
			if (!strcmp(kv, "service")) {
				snprintf(service, sizeof(service), "%s", eq + 1);
			} else if (!strcmp(kv, "scope")) {
				/* A form scope may hold several, space-separated. */
				for (char *s3 = NULL, *sc = strtok_r(eq + 1, " ", &s3); sc && nscopes < 16; sc = strtok_r(NULL, " ", &s3))
					snprintf(scopes[nscopes++], sizeof(scopes[0]), "%s", sc);
			} else if (!strcmp(kv, "refresh_token")) {
				if (strncmp(eq + 1, "refresh-", 8)) {
					respond(fd, 401, "{\"details\":\"bad refresh token\"}");
					return;
				}
				snprintf(user, sizeof(user), "%s", eq + 1 + 8);
			}
		}
	}
	make_token(user, service, scopes, nscopes, token, sizeof(token));
	snprintf(resp, sizeof(resp), "{\"token\":\"%s\",\"access_token\":\"%s\",\"expires_in\":%s%s%s%s}", token, token,
		 getenv("TOKEN_EXPIRES_IN") ? getenv("TOKEN_EXPIRES_IN") : "300",
		 is_post ? ",\"refresh_token\":\"refresh-" : "", is_post ? user : "", is_post ? "\"" : "");
	printf("granted %s", user[0] ? user : "-");
	for (int i = 0; i < nscopes; i++)
		printf(" %s", scopes[i]);
	printf("\n");
	fflush(stdout);
	respond(fd, 200, resp);
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { 0 };
	FILE *f;
	X509 *cert;
	unsigned char *der = NULL;
	int len, one = 1, s;

	if (argc != 6) {
		fprintf(stderr, "usage: token_server PORT KEY.pem CERT.pem ACL_FILE ISSUER\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	acl_path = argv[4];
	issuer = argv[5];
	f = fopen(argv[2], "r");
	key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	f = fopen(argv[3], "r");
	cert = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	if (!key || !cert || (len = i2d_X509(cert, &der)) <= 0) {
		fprintf(stderr, "token_server: cannot read the key or certificate\n");
		return 1;
	}
	EVP_EncodeBlock((unsigned char *)cert_b64, der, len);
	s = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((unsigned short)atoi(argv[1]));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(s, 64) < 0) {
		perror("token_server");
		return 1;
	}
	for (;;) {
		int c = accept(s, NULL, NULL);

		if (c < 0)
			continue;
		handle(c);
		close(c);
	}
}

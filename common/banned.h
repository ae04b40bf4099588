/*
 * banned.h - functions that must not be used in Tipline.
 *
 * Included last by compat.h so that every use becomes a compile error.
 * Use buf_* for strings, num_parse_* for integers, snprintf with a checked
 * result for formatting, and randombytes_buf for randomness.
 */
#ifndef TL_BANNED_H
#define TL_BANNED_H

#define BANNED(func) sorry_##func##_is_banned_in_tipline

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) BANNED(strncat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef gets
#define gets(x) BANNED(gets)
#undef atoi
#define atoi(x) BANNED(atoi)
#undef atol
#define atol(x) BANNED(atol)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef rand
#define rand() BANNED(rand)
#undef gmtime
#define gmtime(x) BANNED(gmtime)
#undef localtime
#define localtime(x) BANNED(localtime)

#endif

/* text.h - small helpers for reading text the programs parse. */
#ifndef COMMON_TEXT_H
#define COMMON_TEXT_H

#include <stddef.h>

/* How many words s holds, words being separated by blanks (spaces and tabs). */
size_t count_words(const char *s);

#endif

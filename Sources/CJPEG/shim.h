// libjpeg-turbo (Debian: libjpeg62-turbo-dev).
#include <stdio.h>
#include <jpeglib.h>

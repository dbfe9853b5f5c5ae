// Placeholder: PNG/JPEG decode wrappers that turn libpng/libjpeg longjmp errors into return codes.
#pragma once

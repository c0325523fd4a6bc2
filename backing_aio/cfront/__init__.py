"""The C front-end: the kernel's own C, read without its preprocessor (tree-sitter), lifted
into the statement language through the kernel-API table (backing_aio.kapi.API).

- ``parse``: a C file as a syntax tree, its functions and structs, every node with its
  file and line;
- ``lift``: a function body as statements of backing_aio.model.lang, every C statement
  accounted for (lifted, known to have no effect on the lifecycle, or refused);
- ``probe``: whether the native parser runs on this machine, asked in a child process.
"""

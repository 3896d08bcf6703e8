"""Ray-traced urban channels for integrated satellite-terrestrial networks.

Subpackages: ``geometry`` (footprints, scene, segments and sites), ``radio``,
``orbits``, ``routes``, ``solvers``, ``io`` (file formats, loaders), ``stages``
(thin DVC entry points) and ``cli``.
"""

from pipeline.runtime import configure_llvm as _configure_llvm

__version__ = "0.1.0"

# Dr.Jit reads DRJIT_LIBLLVM_PATH once, when first imported: set it before anyone does.
_configure_llvm()

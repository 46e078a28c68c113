// The ESM blog: the package by its name through `import` (its "import" export condition).
// check-package.sh writes the package's name in place of @@PKG@@.
import { createPageCache } from '@@PKG@@';
import host from './blog-host.cjs';

host.startBlog(createPageCache);

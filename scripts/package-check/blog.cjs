'use strict';
// The CommonJS blog: the package by its name through `require` (its "require" export condition).
// check-package.sh writes the package's name in place of @@PKG@@.
const { createPageCache } = require('@@PKG@@');
const { startBlog } = require('./blog-host.cjs');

startBlog(createPageCache);

"""Image files, colour conversion and MATLAB-exact resizing."""

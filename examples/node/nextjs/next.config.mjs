// @sipp/sipp-server loads a native module: Next must leave it to Node's require instead
// of bundling it into the server build.
/** @type {import('next').NextConfig} */
const nextConfig = {
  serverExternalPackages: ['@sipp/sipp-server'],
};
export default nextConfig;

/** Stylesheets imported by the page script are bundled by esbuild into job-page.css. */
declare module "*.css";

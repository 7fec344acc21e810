// The file is embedded (`with { type: "file" }`): its import is a path.
declare const path: string;
export default path;

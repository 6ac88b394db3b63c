-- Where the daemon listens, found exactly as specflowctl finds it (pure: the environment is passed in).
local M = {}

-- A path spelled as Python's pathlib spells it: no empty or "." parts, no trailing slash, ".." kept, and a
-- leading "//" (exactly two) kept as POSIX allows.
local function clean(path)
  local parts = {}
  for part in path:gmatch("[^/]+") do
    if part ~= "." then
      parts[#parts + 1] = part
    end
  end
  local root = ""
  if path:match("^//[^/]") or path == "//" then
    root = "//"
  elseif path:sub(1, 1) == "/" then
    root = "/"
  end
  local joined = root .. table.concat(parts, "/")
  return joined ~= "" and joined or "."
end

local function expand_user(path, home)
  if home and (path == "~" or path:sub(1, 2) == "~/") then
    return home .. path:sub(2)
  end
  return path
end

-- `getenv(name)` returns a variable or nil (default: os.getenv). An empty variable counts as unset.
function M.path(getenv)
  getenv = getenv or os.getenv
  local function env(name)
    local value = getenv(name)
    if value == nil or value == "" then
      return nil
    end
    return value
  end
  local home = env("HOME") or (vim.uv or vim.loop).os_homedir() -- as Python's Path.home()
  local override = env("SPECFLOWD_SOCKET")
  if override then
    return clean(expand_user(override, home))
  end
  local runtime = env("XDG_RUNTIME_DIR")
  if runtime then
    return clean(runtime .. "/specflowd/specflowd.sock")
  end
  local specflow_home = env("SPECFLOW_HOME")
  specflow_home = specflow_home and expand_user(specflow_home, home) or (home .. "/.specflow")
  return clean(specflow_home .. "/run/specflowd.sock")
end

-- Whether specflowd's systemd user units are where `systemctl --user` finds them (as specflowctl checks).
function M.user_unit_installed()
  local uv = vim.uv or vim.loop
  local home = os.getenv("HOME") or uv.os_homedir()
  local config = os.getenv("XDG_CONFIG_HOME")
  for _, dir in ipairs({ (config and config ~= "") and config or (home .. "/.config"), home .. "/.config" }) do
    if uv.fs_stat(dir .. "/systemd/user/specflowd.socket") then
      return true
    end
  end
  return false
end

-- The one line a user reads when nothing answers (the same words as specflowctl's): only commands that work
-- on this machine.
function M.not_answering(path)
  local how = M.user_unit_installed() and "`specflowctl daemon start` or `systemctl --user start specflowd.socket`"
    or "`specflowctl daemon start` (or `specflowctl daemon install-unit` once, so systemd starts it on use)"
  return string.format("no specflowd is answering on %s. Start one with %s.", path, how)
end

return M

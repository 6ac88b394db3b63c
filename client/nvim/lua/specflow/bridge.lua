-- Another host's daemon: `ssh HOST specflowctl bridge` as a child process whose stdin/stdout carry the
-- Content-Length frames, exactly as specflowctl --host reaches it (docs/remote.md). Pure helpers (the host
-- syntax, the ssh command line, the one-line error) and `open`, the transport the client drives.
local uv = vim.uv or vim.loop
local framing = require("specflow.framing")

local M = {}

-- "[user@]HOST[:PORT]" (IPv6 as "[addr]:PORT") -> destination, port or nil; nil, why for a bad host.
function M.parse(host)
  if type(host) ~= "string" or host == "" or host:find("%s") then
    return nil, string.format("%q is not a host: write [user@]HOST[:PORT]", tostring(host))
  end
  local user, rest = host:match("^(.*@)([^@]*)$")
  user, rest = user or "", rest or host
  local port
  if rest:sub(1, 1) == "[" then
    local address, tail = rest:match("^%[([^%]]+)%](.*)$")
    if not address or (tail ~= "" and not tail:match("^:%d+$")) then
      return nil, host .. ": an IPv6 host is written [ADDRESS] or [ADDRESS]:PORT"
    end
    rest, port = address, tail:match("^:(%d+)$")
  else
    local _, colons = rest:gsub(":", "")
    if colons == 1 then
      rest, port = rest:match("^([^:]*):(.*)$")
      if not port:match("^%d+$") then
        return nil, host .. ": the port must be a number from 1 to 65535"
      end
    end
  end
  port = port and tonumber(port)
  if port and (port < 1 or port > 65535) then
    return nil, host .. ": the port must be a number from 1 to 65535"
  end
  if rest == "" or rest:sub(1, 1) == "-" then
    return nil, string.format("%q is not a host: write [user@]HOST[:PORT]", host)
  end
  return user .. rest, port
end

local function quote(word)
  if word:match("^[%w@%%+=:,./_-]+$") then
    return word
  end
  return "'" .. word:gsub("'", "'\"'\"'") .. "'"
end

local function words(command)
  if type(command) == "table" then
    return vim.deepcopy(command)
  end
  local out = {}
  for word in tostring(command):gmatch("%S+") do
    out[#out + 1] = word
  end
  return out
end

-- The whole ssh command line: the user's ssh command, a connect timeout unless it sets one, the port, no
-- terminal, the destination and the remote command (`specflowctl bridge`).
function M.argv(host, ssh, remote_specflowctl)
  local destination, port = M.parse(host)
  if not destination then
    return nil, port
  end
  local argv = words(ssh or "ssh")
  if #argv == 0 then
    argv = { "ssh" }
  end
  local has_timeout = false
  for _, word in ipairs(argv) do
    if word:lower():find("connecttimeout", 1, true) then
      has_timeout = true
    end
  end
  if not has_timeout then
    vim.list_extend(argv, { "-o", "ConnectTimeout=10" })
  end
  if port then
    vim.list_extend(argv, { "-p", tostring(port) })
  end
  vim.list_extend(argv, { "-T", "--", destination, quote(remote_specflowctl or "specflowctl") .. " bridge" })
  return argv
end

-- Why the connection ended, in specflowctl's words: one line naming the host and what to do.
function M.explain(host, code, stderr)
  local last = ""
  for line in (stderr or ""):gmatch("[^\r\n]+") do
    if line:match("%S") and not line:match("^Warning:") then
      last = vim.trim(line)
    end
  end
  if code == 255 then
    return string.format(
      "cannot reach %s over ssh (%s); check the host name, its sshd and your ssh settings (the plugin's ssh)",
      host,
      last ~= "" and last or "ssh exited 255"
    )
  end
  if code == 127 or last:find("not found", 1, true) then
    return string.format(
      "specflowctl is not installed on %s or not on its login PATH (%s); install specflowd there or set the plugin's remote_specflowctl",
      host,
      last ~= "" and last or "exit 127"
    )
  end
  if (stderr or ""):find("No such command", 1, true) then
    return string.format("the specflowctl on %s has no `bridge` verb (an older release): upgrade specflowd on %s", host, host)
  end
  return string.format(
    "the connection to %s closed (%s)",
    host,
    last ~= "" and last or ("exit " .. tostring(code))
  )
end

local PROBE = vim.json.encode({ jsonrpc = "2.0", id = "specflow-bridge-probe", method = "daemon.ping" })

-- Start the bridge. The stream counts as connected only once the daemon has answered a ping through it (a
-- started ssh proves nothing: the host may be down): then `on_ready(stream, first_data)`; before that an
-- end calls `on_failed(reason)`. After it, `stream:read_start(cb)` gets data, and an error (the reason,
-- once ssh has exited) instead of a bare end of stream. Callbacks run on the main loop.
function M.open(remote, on_ready, on_failed)
  local stdin, stdout, stderr = uv.new_pipe(false), uv.new_pipe(false), uv.new_pipe(false)
  local stream = { closed = false, ready = false, eof = false, exited = false, errors = "" }
  local handle, pid_or_err
  handle, pid_or_err = uv.spawn(remote.argv[1], {
    args = { unpack(remote.argv, 2) },
    stdio = { stdin, stdout, stderr },
  }, function(code)
    vim.schedule(function()
      stream.exited, stream.code = true, code
      if handle and not handle:is_closing() then
        handle:close()
      end
      if stream.eof then
        stream:_finish()
      else -- the output may still be draining: give it a moment, then say why anyway
        vim.defer_fn(function()
          stream:_finish()
        end, 300)
      end
    end)
  end)
  if not handle then
    for _, pipe in ipairs({ stdin, stdout, stderr }) do
      pipe:close()
    end
    vim.schedule(function()
      on_failed(string.format("cannot run %s (%s): set the plugin's ssh", remote.argv[1], tostring(pid_or_err)))
    end)
    return nil
  end

  function stream:write(data)
    if not self.closed then
      stdin:write(data)
    end
  end
  function stream:read_start(callback)
    self.on_read = callback
  end
  function stream:is_closing()
    return self.closed
  end
  function stream:close()
    if self.closed then
      return
    end
    self.closed = true
    for _, pipe in ipairs({ stdin, stdout, stderr }) do
      if not pipe:is_closing() then
        pipe:close()
      end
    end
    if not self.exited and handle and not handle:is_closing() then
      handle:kill("sigterm") -- its bridge on the far side sees the channel close and ends its connection
    end
  end
  function stream:_finish()
    if self.finished then
      return
    end
    self.finished = true
    local reason = M.explain(remote.host, self.code, self.errors)
    local was_ready = self.ready
    self:close()
    if was_ready then
      if self.on_read then
        self.on_read(reason)
      end
    else
      on_failed(reason)
    end
  end

  stderr:read_start(function(_, data)
    if data then
      vim.schedule(function()
        stream.errors = (stream.errors .. data):sub(-65536)
      end)
    end
  end)
  stdout:read_start(function(err, data)
    vim.schedule(function()
      if stream.finished then
        return
      end
      if err or data == nil then
        stream.eof = true
        if stream.exited then
          stream:_finish()
        end
        return
      end
      if not stream.ready then
        stream.ready = true
        on_ready(stream)
      end
      if stream.on_read then
        stream.on_read(nil, data)
      end
    end)
  end)
  stdin:write(framing.encode(PROBE))
  return stream
end

return M

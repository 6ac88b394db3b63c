-- JSON-RPC 2.0 over the daemon's Unix socket through libuv pipes (Neovim 0.7+), Content-Length framed; or,
-- with a host, over the stdio of `ssh HOST specflowctl bridge` (specflow.bridge), the same frames.
-- Keeps itself connected once started: when the daemon goes away it retries with a capped backoff and
-- calls `on_connect` again, so the owner can resubscribe. Every callback runs on the main loop.
local uv = vim.uv or vim.loop
local bridge = require("specflow.bridge")
local framing = require("specflow.framing")
local socket = require("specflow.socket")

local M = {}

local Client = {}
Client.__index = Client

-- opts: socket() -> path; remote() -> nil or {host, argv} (through ssh instead of the socket); on_connect(client, generation); on_disconnect(client, reason);
-- on_event(params); retry_ms (first retry delay, default 250); retry_max_ms (default 5000).
function M.new(opts)
  return setmetatable({
    opts = opts,
    state = "idle", -- idle | connecting | connected | offline
    generation = 0, -- connections made so far
    next_id = 0,
    pending = {}, -- id -> callback(err, result)
    queue = {}, -- requests made while connecting
    wanted = false, -- keep reconnecting
    retry_ms = opts.retry_ms or 250,
  }, Client)
end

-- JSON null arrives as vim.NIL; object fields holding it become absent so `x.field or default` works.
local function denull(value)
  if type(value) == "table" then
    for key, item in pairs(value) do
      if item == vim.NIL and type(key) == "string" then
        value[key] = nil
      else
        denull(item)
      end
    end
  end
  return value
end
M.denull = denull

-- An error as the user reads it: the daemon's message and stable kind, or why nothing answered.
function M.describe(err)
  if type(err) ~= "table" then
    return tostring(err)
  end
  local kind = type(err.data) == "table" and err.data.kind
  return (err.message or "error") .. (kind and (" [" .. kind .. "]") or "")
end

-- Where the daemon is, as messages name it: the socket path, or the host.
function Client:path()
  local remote = self.opts.remote and self.opts.remote()
  return remote and remote.host or self.opts.socket()
end

function Client:start()
  self.wanted = true
  self:_connect()
end

function Client:stop()
  self.wanted = false
  self:_stop_timer()
  self:_drop("client stopped", false)
  self.state = "idle"
end

-- Send a request; `callback(err, result)` gets an error table {code?, message, data?} or the result.
-- Params nil = no params member; an empty table is sent as {} (not []).
function Client:request(method, params, callback)
  callback = callback or function() end
  local message = { jsonrpc = "2.0", method = method }
  if params ~= nil then
    message.params = next(params) == nil and vim.empty_dict() or params
  end
  if self.state == "connected" then
    self:_send(message, callback)
    return
  end
  table.insert(self.queue, { message = message, callback = callback })
  if self.state ~= "connecting" then
    self:_connect()
  end
end

function Client:_send(message, callback)
  self.next_id = self.next_id + 1
  message.id = self.next_id
  self.pending[message.id] = callback
  local ok, payload = pcall(vim.json.encode, message)
  if not ok then
    self.pending[message.id] = nil
    callback({ message = "cannot encode the request: " .. tostring(payload) })
    return
  end
  self.pipe:write(framing.encode(payload))
end

function Client:_connect()
  if self.state == "connecting" or self.state == "connected" then
    return
  end
  self:_stop_timer()
  self.state = "connecting"
  local remote = self.opts.remote and self.opts.remote()
  if remote then
    self:_connect_bridge(remote)
    return
  end
  local path = self:path()
  local pipe = uv.new_pipe(false)
  pipe:connect(path, function(err)
    vim.schedule(function()
      if err then
        pipe:close()
        self:_offline(socket.not_answering(path) .. " (" .. err .. ")")
        return
      end
      self:_connected(pipe)
    end)
  end)
end

function Client:_connect_bridge(remote)
  if remote.problem then -- a host the plugin cannot even write an ssh command for
    vim.schedule(function()
      self:_offline(remote.problem)
    end)
    return
  end
  local opened
  opened = bridge.open(remote, function(stream)
    if self.state == "connecting" and opened == stream then
      self:_connected(stream)
    else
      stream:close() -- given up meanwhile (stop)
    end
  end, function(reason)
    if self.state == "connecting" then
      self:_offline(reason)
    end
  end)
end

function Client:_connected(pipe)
  self.pipe = pipe
  self.decoder = framing.decoder()
  self.state = "connected"
  self.generation = self.generation + 1
  self.retry_ms = self.opts.retry_ms or 250
  pipe:read_start(function(err, data)
    vim.schedule(function()
      if self.pipe ~= pipe then
        return -- a connection already given up
      end
      if err then
        self:_lost(err)
      elseif data == nil then
        self:_lost("connection closed by the daemon")
      else
        self:_receive(data)
      end
    end)
  end)
  local queued = self.queue
  self.queue = {}
  for _, item in ipairs(queued) do
    self:_send(item.message, item.callback)
  end
  if self.opts.on_connect then
    self.opts.on_connect(self, self.generation)
  end
end

function Client:_receive(data)
  local payloads, err = self.decoder:feed(data)
  if not payloads then
    self:_lost("unreadable reply: " .. err)
    return
  end
  for _, payload in ipairs(payloads) do
    local ok, message = pcall(vim.json.decode, payload)
    if ok and type(message) == "table" then
      self:_dispatch(denull(message))
    end
  end
end

function Client:_dispatch(message)
  if message.method == "event" then
    if self.opts.on_event and type(message.params) == "table" and type(message.params.type) == "string" then
      self.opts.on_event(message.params)
    end
    return
  end
  local callback = message.id and self.pending[message.id]
  if not callback then
    return
  end
  self.pending[message.id] = nil
  if message.error then
    callback(message.error)
  else
    callback(nil, message.result)
  end
end

-- Close the pipe and fail whatever waits on it.
function Client:_drop(reason, notify)
  local pipe = self.pipe
  self.pipe = nil
  if pipe and not pipe:is_closing() then
    pipe:close()
  end
  local pending, queued = self.pending, self.queue
  self.pending, self.queue = {}, {}
  for _, callback in pairs(pending) do
    callback({ message = reason })
  end
  for _, item in ipairs(queued) do
    item.callback({ message = reason })
  end
  if notify and self.opts.on_disconnect then
    self.opts.on_disconnect(self, reason)
  end
end

function Client:_lost(reason)
  self:_drop("lost specflowd on " .. self:path() .. ": " .. reason, true)
  self.state = "offline"
  self:_retry_later()
end

function Client:_offline(reason)
  self:_drop(reason, false)
  self.state = "offline"
  self:_retry_later()
end

function Client:_retry_later()
  if not self.wanted then
    return
  end
  self:_stop_timer()
  local delay = self.retry_ms
  self.retry_ms = math.min(self.retry_ms * 2, self.opts.retry_max_ms or 5000)
  self.timer = uv.new_timer()
  self.timer:start(delay, 0, function()
    vim.schedule(function()
      self:_stop_timer()
      if self.wanted and self.state == "offline" then
        self:_connect()
      end
    end)
  end)
end

function Client:_stop_timer()
  if self.timer then
    self.timer:stop()
    if not self.timer:is_closing() then
      self.timer:close()
    end
    self.timer = nil
  end
end

return M

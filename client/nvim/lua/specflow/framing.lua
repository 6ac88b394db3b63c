-- Content-Length framing (the daemon's documented framing), sans-I/O: bytes in, whole payloads out.
local M = {}

local MAX_MESSAGE_BYTES = 4 * 1024 * 1024 -- the daemon refuses anything larger, so no reply can be larger
local MAX_HEADER_BYTES = 8 * 1024

function M.encode(payload)
  return string.format("Content-Length: %d\r\n\r\n%s", #payload, payload)
end

local Decoder = {}
Decoder.__index = Decoder

function M.decoder()
  return setmetatable({ buffer = "", pending = nil }, Decoder)
end

local function content_length(block)
  local length
  for line in (block .. "\r\n"):gmatch("(.-)\r\n") do
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    if not name then
      return nil, "malformed header line: " .. line:sub(1, 80)
    end
    if name:lower() == "content-length" then
      length = tonumber(value)
      if not length or length < 0 or length % 1 ~= 0 then
        return nil, "bad Content-Length: " .. value:sub(1, 40)
      end
    end
  end
  if not length then
    return nil, "missing Content-Length header"
  end
  if length > MAX_MESSAGE_BYTES then
    return nil, string.format("message of %d bytes exceeds the %d-byte limit", length, MAX_MESSAGE_BYTES)
  end
  return length
end

-- Returns the complete payloads in `data` (and earlier partial data), or nil and an error: the stream
-- position is then lost and the connection must be closed.
function Decoder:feed(data)
  self.buffer = self.buffer .. data
  local messages = {}
  while true do
    if not self.pending then
      local finish = self.buffer:find("\r\n\r\n", 1, true)
      if not finish then
        if #self.buffer > MAX_HEADER_BYTES then
          return nil, "header block too long or missing blank line"
        end
        return messages
      end
      local length, err = content_length(self.buffer:sub(1, finish - 1))
      if not length then
        return nil, err
      end
      self.pending = length
      self.buffer = self.buffer:sub(finish + 4)
    end
    if #self.buffer < self.pending then
      return messages
    end
    messages[#messages + 1] = self.buffer:sub(1, self.pending)
    self.buffer = self.buffer:sub(self.pending + 1)
    self.pending = nil
  end
end

return M
